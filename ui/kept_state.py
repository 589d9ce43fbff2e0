"""Widget values kept when the user goes to another page and comes back.

Streamlit forgets a widget's value at the end of a run that does not draw the widget, so a page's choices (and the
sidebar's, on a page that stops before drawing it) are lost as soon as another page runs. ``remember`` copies the
values, after the widgets are drawn, under one key that no widget owns (Streamlit keeps it); ``restore`` puts them
back, before the widgets are drawn, where Streamlit has dropped them (else the default).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import streamlit as st

KEPT = "_kept_widget_values"  # widget key -> its last value; no widget has this key, so Streamlit keeps it


def restore(defaults: Mapping[str, object]) -> None:
    """Before the widgets are drawn: each key of ``defaults`` gets the value it has, or, where Streamlit has dropped
    it, its remembered value, else its default. The value is assigned again even where it is held: a value assigned
    in a run outlives its widget, and a widget of the same key on another page (another widget to Streamlit) starts
    from it instead of from its own default."""
    kept = st.session_state.setdefault(KEPT, {})
    for key, default in defaults.items():
        st.session_state[key] = st.session_state[key] if key in st.session_state else kept.get(key, default)


def remember(keys: Iterable[str]) -> None:
    """After the widgets are drawn: remember the value each of ``keys`` has now."""
    kept = st.session_state.setdefault(KEPT, {})
    for key in keys:
        if key in st.session_state:
            kept[key] = st.session_state[key]

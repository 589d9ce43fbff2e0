"""Sending a (query, document) pair to the attention page from any other page.

Another page calls ``open_attention(query, doc_id)``, or draws ``attention_button`` under a result table
whose rows can be selected. The pair travels in the session, so the sidebar's data set and models stay as
they are. The attention page reads it with ``current_pair``.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pandas as pd
import streamlit as st

ATTENTION_PAGE = "pages/5_Attention.py"
# the pair asked for by another page, taken by the attention page on its next run
REQUEST = "_attention_request"
# the pair the attention page shows; a plain session value, so it survives visits to other pages
PAIR = "_attention_pair"
QUERY_KEY = "attention_query"
DOC_KEY = "attention_doc_id"


def open_attention(query: str, doc_id: str) -> NoReturn:
    """Go to the attention page showing this pair."""
    st.session_state[REQUEST] = (query, str(doc_id))
    st.switch_page(ATTENTION_PAGE)


def selected_doc_id(table: pd.DataFrame | None, event: Any) -> str | None:
    """The doc_id of the row selected in a table drawn with ``st.dataframe(..., on_select="rerun")``."""
    if table is None or event is None:
        return None
    try:
        rows = list(event["selection"]["rows"])
    except (KeyError, TypeError):
        return None
    if not rows or not 0 <= rows[0] < len(table):
        return None
    return str(table.iloc[rows[0]]["doc_id"])


def attention_button(query: str, table: pd.DataFrame | None, event: Any, key: str) -> None:
    """A button under a result table: the attention for the selected row's document and the query."""
    doc_id = selected_doc_id(table, event)
    label = f"See why: attention for {doc_id}" if doc_id else "See why: attention"
    if st.button(label, key=key, icon=":material/visibility:", disabled=doc_id is None or not query.strip(),
                 help="Select a row in the table (the box at its left), then open what the query attends to in it."):
        open_attention(query, doc_id)


def current_pair(default: tuple[str, str], dataset: str) -> tuple[str, str]:
    """For the attention page: the pair asked for by another page, else the one shown last on this data set, else
    ``default`` (a pair of ``dataset``'s: after a switch of data set, the last pair's document is not in it).

    Call it before the page draws its query and document widgets; it fills them.
    """
    request = st.session_state.pop(REQUEST, None)
    shown = st.session_state.get(PAIR)
    switched = shown is not None and shown[2] != dataset  # the pair shown last belongs to another data set
    pair = request or (None if shown is None or switched else shown[:2]) or default
    if request is not None or switched or QUERY_KEY not in st.session_state:
        st.session_state[QUERY_KEY] = pair[0]
    if request is not None or switched or DOC_KEY not in st.session_state:
        st.session_state[DOC_KEY] = pair[1]
    return pair


def remember_pair(query: str, doc_id: str, dataset: str) -> None:
    st.session_state[PAIR] = (query, doc_id, dataset)

"""The sidebar's signals: freshness, authority, a number and diversity, mixed with relevance (explorer.signals)."""

from __future__ import annotations

from datetime import date
from typing import Callable

import streamlit as st

from explorer.errors import ExplorerError
from explorer.signals.config import (
    Authority,
    Diversity,
    Freshness,
    NumberSignal,
    Signal,
    SignalConfig,
    authority_text,
    parse_authority_values,
    suggested_authority,
)
from explorer.signals.dates import parse_date
from explorer.signals.fields import FieldSummary, summarise_fields
from ui import cache
from ui.plain_text import markdown_literal

NONE = "(none)"
DIVERSITY = ("none", "MMR on the bi-encoder's vectors", "at most N per parent")
# the panel's widget values that must survive moving between pages, with their defaults
SIGNAL_DEFAULTS: dict[str, object] = {
    "use_signals": False, "sig_fresh_field": NONE, "sig_fresh_half_life": 180, "sig_fresh_weight": 0.1,
    "sig_fresh_now": "", "sig_auth_field": NONE, "sig_auth_weight": 0.1, "sig_auth_values": "",
    "sig_num_field": NONE, "sig_num_weight": 0.0, "sig_num_log": False, "sig_diversity": DIVERSITY[0],
    "sig_mmr_lambda": 0.7, "sig_parent_field": NONE, "sig_parent_limit": 2,
}


@st.cache_data(show_spinner=False, max_entries=8)
def field_summaries(path: str) -> list[FieldSummary]:
    """The metadata fields of the data set at ``path`` (read once per data set)."""
    return summarise_fields(cache.dataset(path).documents)


def _field_picker(label: str, fields: list[FieldSummary], key: str, path: str, preferred: tuple[str, ...] = (),
                  on_change: Callable[[], None] | None = None) -> str | None:
    """A picker of ``fields`` (or none). The first time a data set shows it, it starts on a preferred field (else
    the first); a remembered field this data set lacks falls back to none."""
    names = [f.name for f in fields]
    if st.session_state.get(key) not in [NONE, *names]:
        st.session_state[key] = NONE
    seen = f"_{key}_seen:{path}"
    if not st.session_state.get(seen):
        st.session_state[key] = next((n for n in preferred if n in names), names[0] if names else NONE)
        st.session_state[seen] = True
    chosen = st.selectbox(label, [NONE, *names], key=key, on_change=on_change)
    return None if chosen == NONE else chosen


def _suggest_values(path: str) -> None:
    """When the authority field changes: its values with suggested weights, for the user to edit."""
    chosen = st.session_state.get("sig_auth_field")
    if chosen and chosen != NONE:
        values = sorted({doc.metadata.get(chosen, "").strip() for doc in cache.dataset(path).documents} - {""})
        st.session_state["sig_auth_values"] = authority_text(suggested_authority(values))


def signals_choice(dataset_path: str) -> SignalConfig | None:
    """The signals panel (inside the sidebar); None when off, or when the data set has no metadata to use."""
    use = st.checkbox("Mix in signals: freshness, authority, diversity", key="use_signals",
                      help="The final score is relevance's share plus each signal's weight times its 0-1 value; "
                           "the Search page shows each result's parts and how far each signal moved it.")
    if not use or not dataset_path:
        return None
    try:
        fields = field_summaries(dataset_path)
    except ExplorerError as exc:
        st.error(markdown_literal(str(exc)))
        return None
    dates = [f for f in fields if f.kind == "date"]
    categories = [f for f in fields if f.kind == "category"]
    numbers = [f for f in fields if f.kind == "number"]
    if not fields:
        st.caption("This data set's documents carry no metadata: only diversity (MMR) can be used.")
    signals: list[Signal] = []
    problems: list[str] = []
    freshness_field = _field_picker("Freshness: date field", dates, "sig_fresh_field", dataset_path,
                                    ("updated", "modified", "date"))
    if freshness_field:
        half_life = st.number_input("Half-life (days)", 1, 3650, key="sig_fresh_half_life")
        weight = st.slider("Freshness weight", 0.0, 1.0, step=0.05, key="sig_fresh_weight")
        newest = next(f.latest for f in dates if f.name == freshness_field)
        now_text = st.text_input("Now (YYYY-MM-DD)", key="sig_fresh_now", placeholder=str(newest or ""),
                                 help="Ages are counted back from this date; empty: the newest date in the field.")
        now: date | None = None
        if now_text.strip():
            now = parse_date(now_text)
            if now is None:
                problems.append(f"'{now_text}' is not a date; write it as YYYY-MM-DD.")
        signals.append(Freshness(freshness_field, float(half_life), float(weight), now))
    authority_field = _field_picker("Authority: field", categories, "sig_auth_field", dataset_path,
                                    ("status", "kind", "source"), on_change=lambda: _suggest_values(dataset_path))
    if authority_field:
        if not st.session_state.get("sig_auth_values"):
            _suggest_values(dataset_path)
        weight = st.slider("Authority weight", 0.0, 1.0, step=0.05, key="sig_auth_weight")
        text = st.text_input("Weight of each value (0-1)", key="sig_auth_values",
                             help="A first guess from the values' words; edit it. Values not listed count 0.")
        try:
            signals.append(Authority(authority_field, float(weight), parse_authority_values(text)))
        except ExplorerError as exc:
            problems.append(str(exc))
    number_field = _field_picker("Number: field (higher is better)", numbers, "sig_num_field", dataset_path)
    if number_field:
        weight = st.slider("Number weight", 0.0, 1.0, step=0.05, key="sig_num_weight")
        log = st.checkbox("On a log scale", key="sig_num_log")
        signals.append(NumberSignal(number_field, float(weight), bool(log)))
    diversity = _diversity_choice(fields, dataset_path)
    for problem in problems:
        st.error(markdown_literal(problem))
    try:
        config = SignalConfig(tuple(signals), diversity)
    except ExplorerError as exc:
        st.error(markdown_literal(str(exc)))
        return None
    st.caption(markdown_literal(f"Final score: {config.describe()}."))
    return config if config.active and not problems else None


def _diversity_choice(fields: list[FieldSummary], path: str) -> Diversity | None:
    """The diversity step: none, MMR with a lambda, or a cap per parent."""
    mode = st.selectbox("Diversity", DIVERSITY, key="sig_diversity",
                        help="MMR trades score for novelty (lambda 1 = score alone); a cap keeps at most N results "
                             "per value of a parent field, e.g. the page a passage came from.")
    if mode == DIVERSITY[1]:
        return Diversity("mmr", lambda_=float(st.slider("MMR lambda", 0.0, 1.0, step=0.05, key="sig_mmr_lambda")))
    if mode == DIVERSITY[2]:
        parent = _field_picker("Parent field", [f for f in fields if f.kind in ("category", "text")],
                               "sig_parent_field", path)
        limit = st.number_input("At most N per parent", 1, 20, key="sig_parent_limit")
        return Diversity("per-parent", field=parent, limit=int(limit)) if parent else None
    return None

"""When a newly chosen model fails to load, say why and keep working with the one that worked before."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from explorer.errors import ExplorerError
from ui import cache
from ui.sidebar import SidebarChoices

LAST_GOOD = {"bi-encoder": "_last_good_bi_encoder", "reranker": "_last_good_reranker"}


def _try(role: str, name: str, choices: SidebarChoices) -> str | None:
    """The name to use: ``name`` if it loads, else the last one that loaded, else (for a reranker) None, the first
    stage alone. The error is shown either way."""
    loader = cache.bi_encoder if role == "bi-encoder" else cache.reranker
    try:
        loader(name, choices.device, choices.trust_remote_code)
    except ExplorerError as exc:
        previous = st.session_state.get(LAST_GOOD[role])
        if previous and previous != name:
            st.error(f"{exc}\n\nStill using the previous {role}, {previous}.")
            return previous
        if role == "reranker":
            st.error(f"{exc}\n\nShowing the first stage only until a reranker loads.")
            return None
        raise
    st.session_state[LAST_GOOD[role]] = name
    return name


def with_loadable_models(choices: SidebarChoices) -> SidebarChoices:
    """Choices whose models load; raises ExplorerError only when no earlier model can stand in."""
    bi_name = _try("bi-encoder", choices.bi_encoder, choices) or choices.bi_encoder
    reranker_name = _try("reranker", choices.reranker, choices) if choices.reranker else None
    return replace(choices, bi_encoder=bi_name, reranker=reranker_name)

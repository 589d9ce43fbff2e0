"""Compare's rows of a reranked configuration as if its reranker had read only the top M: chosen by the first stage's
order or by a small reranker (``explorer.evaluation.cascade_variants``), read from the full rerank's scores."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.cascade_sweep import PairTime
from explorer.evaluation.cascade_variants import FIRST_STAGE, SMALL, cascade_variants
from explorer.evaluation.runner import Evaluation
from explorer.models.packaged import built_small_reranker
from explorer.time_left import Pace
from ui import cache, evaluations
from ui.sidebar import SidebarChoices

KEEPS = (5, 10, 20, 30, 50)
FILTERS = (FIRST_STAGE, SMALL)


@dataclass(frozen=True)
class CascadeRows:
    """The derived evaluations of one configuration, what their estimates rest on (each a phrase, e.g. "the reranker
    12.3 ms a pair (...)"), and what could not be derived."""

    evaluations: list[Evaluation]
    notes: list[str]
    problems: list[str]


def small_name(choices: SidebarChoices) -> str:
    """The small reranker that filters: the sidebar's cascade's, else the one built here ("" when there is neither)."""
    if choices.cascade is not None:
        return choices.cascade.small
    return built_small_reranker(cache.settings())


def rows_for(choices: SidebarChoices, request: evaluations.EvalRequest, evaluation: Evaluation,
             keeps: list[int], filters: list[str]) -> CascadeRows:
    """``evaluation`` (a full rerank) at each M of ``keeps``, for each of ``filters``, with a progress bar while the
    small reranker reads the candidates."""
    found: list[Evaluation] = []
    notes: list[str] = []
    problems: list[str] = []
    if not evaluation.has_reranker or evaluation.signals or not keeps or not filters:  # signals reorder after it
        return CascadeRows(found, notes, problems)
    pipeline = evaluations.opened(request).pipeline
    pair_time: PairTime | None = None
    for kind in filters:
        try:
            small = None
            if kind == SMALL:
                name = small_name(choices)
                if not name:
                    problems.append("the small reranker's rows: none is named in the sidebar's Cascade or built here "
                                    "(python -m explorer build-small-reranker).")
                    continue
                small = cache.reranker(name, choices.device, choices.trust_remote_code)
            bar = st.progress(0.0, text="Scoring every candidate with the small reranker…") if small else None
            pace = Pace("queries")

            def progress(done: int, total: int) -> None:
                if bar is not None:
                    bar.progress(done / total, text=f"Small reranker: {pace.status(done, total)}")

            made = cascade_variants(pipeline, evaluation, small, keeps, pair_time, progress=progress)
            if bar is not None:
                bar.empty()
            found += made.evaluations
            pair_time = made.pair_time
            if small is not None:
                notes.append(f"the small reranker ({small.info.loaded}) {made.small_ms:,.0f} ms a query")
        except ExplorerError as exc:
            problems.append(f"{evaluation.name} with the {kind}'s top M: {exc}")
    if pair_time is not None:
        notes.insert(0, f"the reranker {pair_time.said()}")
    return CascadeRows(found, notes, problems)

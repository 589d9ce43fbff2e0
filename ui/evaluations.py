"""Running evaluations from the pages: with a progress bar, kept per query on disk, shared by the pages.

An evaluation runs when the user asks for it; after that, every page that needs the same configuration
reads it back from the per-query cache in a moment (``explorer.evaluation``), so pages can simply ask again.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer.evaluation import EvalConfig, Evaluation, evaluate
from explorer.passages import PassageOptions
from explorer.pipeline import FirstStage
from ui import cache
from ui.sidebar import SidebarChoices

REQUESTED = "_evaluations_requested"  # configurations the user has run in this session


@dataclass(frozen=True)
class EvalRequest:
    """Everything that names one evaluation on the pages."""

    dataset_path: str
    bi_encoder: str
    reranker: str | None
    device: str
    trust_remote_code: bool
    split: str
    first_stage: FirstStage
    depth: int
    blend: float
    passages: PassageOptions | None = None

    @property
    def label(self) -> str:
        return f"{self.first_stage} → {self.reranker}" if self.reranker else f"{self.first_stage} only"


def request_from(choices: SidebarChoices, split: str, reranker: str | None = "sidebar",
                 first_stage: str | None = None, depth: int | None = None) -> EvalRequest:
    """The sidebar's configuration, with any of reranker, first stage and depth replaced."""
    name = choices.reranker if reranker == "sidebar" else reranker
    blend = 1.0
    if name:
        loaded = cache.reranker(name, choices.device, choices.trust_remote_code)
        blend = choices.blend_for(loaded.info.recommended_blend)
    return EvalRequest(choices.dataset_path, choices.bi_encoder, name, choices.device, choices.trust_remote_code,
                       split, (first_stage or choices.first_stage), depth or choices.depth, blend,  # type: ignore[arg-type]
                       choices.passages)


def was_requested(request: EvalRequest) -> bool:
    return request in st.session_state.get(REQUESTED, set())


def run(request: EvalRequest) -> Evaluation:
    """Run (or read back) one evaluation, drawing a progress bar while queries are computed."""
    st.session_state.setdefault(REQUESTED, set()).add(request)
    base = cache.pipeline(request.dataset_path, request.bi_encoder, request.device, request.trust_remote_code,
                          request.passages)
    second = cache.reranker(request.reranker, request.device, request.trust_remote_code) if request.reranker else None
    config = EvalConfig(request.split, request.first_stage, request.depth, request.blend, rerank=second is not None)
    bar = st.empty()

    def progress(done: int, total: int) -> None:
        if done < total:
            bar.progress(done / total, text=f"{request.label}: {done} of {total} queries")

    try:
        # named after the models that ran (an offline stand-in is not the model asked for)
        return evaluate(base.with_reranker(second), config, cache_folder=cache.settings().cache_dir / "evaluations",
                        progress=progress)
    finally:
        bar.empty()

"""Running evaluations from the pages: with a progress bar, kept per query on disk, shared by the pages.

An evaluation runs when the user asks for it; after that, every page that needs the same configuration
reads it back from the per-query cache in a moment (``explorer.evaluation.runner``), so pages can simply ask again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from explorer.evaluation.runner import EvalConfig, Evaluation, evaluate
from explorer.evaluation.signalled import with_signals
from explorer.judging.datasets import dataset_key, label_version
from explorer.retrieval.first_stage import FirstStageMethod
from explorer.signals.config import SignalConfig
from explorer.spec import OpenPipeline, PipelineSpec
from explorer.time_left import Pace
from ui import cache
from ui.sidebar import SidebarChoices

REQUESTED = "_evaluations_requested"  # configurations the user has run in this session
COMPARED_LISTS = "_compared_lists"  # query text -> each compared configuration's final ranked list (Judge page pool)


@dataclass(frozen=True)
class EvalRequest:
    """Everything that names one evaluation on the pages: the pipeline and the labelled split."""

    spec: PipelineSpec
    split: str


def describe(request: EvalRequest) -> str:
    """The configuration by the models that run: the reranker loaded, with the name asked for where they differ."""
    method, name = request.spec.first_stage_method, request.spec.reranker_name
    if not name:
        return f"{method} only"
    return f"{method} → {cache.reranker(name, request.spec.device, request.spec.trust_remote_code).info.display_name}"


def request_from(choices: SidebarChoices, split: str, reranker: str | None = "sidebar",
                 first_stage_method: FirstStageMethod | None = None, depth: int | None = None) -> EvalRequest:
    """The sidebar's configuration, with any of reranker, first-stage method and depth replaced; without the signals,
    which reorder an evaluation's lists afterwards (``explorer.evaluation.signalled``) and never rerun a model."""
    return EvalRequest(replace(choices.spec(reranker, first_stage_method, depth), signals=None), split)


def was_requested(request: EvalRequest) -> bool:
    return request in st.session_state.get(REQUESTED, set())


def label_version_of(choices: SidebarChoices, split: str) -> str:
    """The labels of ``split`` in the sidebar's data set, with the judgements' version and rule (as snapshots and
    reports record them)."""
    return label_version(cache.judgements(), dataset_key(choices.dataset_path), split)


def opened(request: EvalRequest) -> OpenPipeline:
    """The request's pipeline, opened as the Search page opens it."""
    return cache.opened(request.spec)


def run(request: EvalRequest) -> Evaluation:
    """Run (or read back) one evaluation, drawing a progress bar while queries are computed."""
    st.session_state.setdefault(REQUESTED, set()).add(request)
    pipeline = opened(request)
    config = EvalConfig(request.split, request.spec.first_stage_method, request.spec.depth, pipeline.blend,
                        rerank=pipeline.reranker is not None)
    bar = st.empty()
    pace = Pace("queries")

    def progress(done: int, total: int) -> None:
        if done < total:
            bar.progress(done / total, text=f"{describe(request)}: {pace.status(done, total)}")

    pending = pipeline.reranker.engine.upgrading if pipeline.reranker is not None else None
    if pending is not None:
        bar.info(pending.note + " The evaluation waits for it, so every query is scored the same way.")
    try:
        # named after the models that ran (an offline stand-in is not the model asked for)
        labelled = pipeline.pipeline.with_dataset(cache.labelled_dataset(request.spec.dataset))
        return evaluate(labelled, config, cache_folder=cache.settings().cache_dir / "evaluations",
                        progress=progress)
    finally:
        bar.empty()


def with_sidebar_signals(evaluation: Evaluation, request: EvalRequest, signals: SignalConfig | None) -> Evaluation:
    """``evaluation`` with its final lists reordered by the sidebar's ``signals`` (itself when there are none); MMR
    reads the request's pipeline's vectors. Nothing is scored again."""
    if signals is None:
        return evaluation
    return with_signals(evaluation, cache.labelled_dataset(request.spec.dataset), signals,
                        opened(request).pipeline.document_vectors)

"""The one module that holds Streamlit caches. Models and indexes live across reruns and browser sessions.

Pipelines are opened by ``explorer.spec.open_pipeline``, as on the command line; this module only hands it
pieces kept in Streamlit's caches (``CachedParts``) and one score cache for the whole server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import streamlit as st

from explorer.attention.model_pass import PairAttention, read_attention
from explorer.evaluation.snapshots import SnapshotStore
from explorer.inference.device import DeviceChoice, choose_device
from explorer.judging.datasets import dataset_key, with_judgements
from explorer.judging.store import JudgementStore
from explorer.loading import load_beir
from explorer.loading.paths import check_readable
from explorer.models.info import LoadedModel
from explorer.models.resolution import load_bi_encoder, load_reranker, page_model_roots
from explorer.pipeline import PipelineResult, RetrievalPipeline
from explorer.records import Dataset
from explorer.remote.answer_cache import FILE_NAME as ANSWERS_FILE, AnswerCache
from explorer.remote.names import check_remote_allowed
from explorer.rerank.score_cache import ScoreCache, persistent_score_cache
from explorer.retrieval.passages import OverLength, count_over_length
from explorer.settings import Settings
from explorer.spec import OpenPipeline, PipelineSpec, Progress, index_corpus, open_milvus, open_pipeline

if TYPE_CHECKING:
    from explorer.explain.gradients import GradientExplainer


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    # a page answers from bf16 while a new reranker's int8 graph is made, instead of waiting for it
    return replace(Settings.from_env(), int8_in_background=True)


@st.cache_resource(show_spinner=False)
def device(preference: str) -> DeviceChoice:
    return choose_device(preference)  # type: ignore[arg-type]


@st.cache_resource(show_spinner=False)
def score_cache() -> ScoreCache:
    """Reranker scores for the whole server: every session shares the models, and so the scores they produce.
    They are kept on disk too, so a restarted server answers pairs it scored before without the model."""
    return persistent_score_cache(settings().cache_dir)


@st.cache_resource(show_spinner="Reading the data set…")
def dataset(path: str) -> Dataset:
    """The BEIR folder ``path``, read only when it lies under the server's data folders."""
    roots = settings().readable_roots
    return load_beir(check_readable(path, roots), readable_roots=roots)  # links inside it are checked too


@st.cache_resource(show_spinner=False)
def judgements() -> JudgementStore:
    """The server's one judgements file (in the workspace), shared by every session."""
    return JudgementStore(settings().judgements_path)


@st.cache_resource(show_spinner=False)
def snapshots() -> SnapshotStore:
    """The server's one snapshots file (in the workspace), shared by every session."""
    return SnapshotStore(settings().snapshots_path)


@st.cache_resource(show_spinner=False)
def answer_cache() -> AnswerCache:
    """The chat models' answers (the AI judge's grades), one file in the workspace shared by every session: a run
    stopped half way resumes from it, and a repeated one asks nothing."""
    return AnswerCache(settings().cache_dir / ANSWERS_FILE)


_RECOVERY_SAID = "_judgements_recovery_said"  # in a session's state: the recovery of the judgements file was said


def labelled_dataset(path: str) -> Dataset:
    """The data set with the judgements made here merged into its labels (read afresh: a grade just saved counts).
    A judgements file found damaged and recovered is said once in each session (what was kept, what came back)."""
    store = judgements()
    if store.recovery is not None and not st.session_state.get(_RECOVERY_SAID):
        st.session_state[_RECOVERY_SAID] = True
        st.warning(store.recovery.message)
    return with_judgements(dataset(path), store, dataset_key(path))


@st.cache_resource(show_spinner=False)
def over_length(path: str, role: str, name: str, device_preference: str, trust_remote_code: bool) -> OverLength:
    """Documents a model reads only in part. A reranker also reads the query: about 32 of its tokens are kept for it."""
    loader, reserved = (bi_encoder, 2) if role == "bi-encoder" else (reranker, 32)
    model = loader(name, device_preference, trust_remote_code).model
    texts = [doc.full_text for doc in dataset(path).documents]
    return count_over_length(texts, model.tokenizer, model.max_seq_length, reserved=reserved)


@st.cache_resource(show_spinner="Loading the bi-encoder…")
def bi_encoder(name: str, device_preference: str, trust_remote_code: bool) -> LoadedModel:
    return load_bi_encoder(name, device(device_preference), settings(), trust_remote_code=trust_remote_code,
                           folder_roots=page_model_roots(settings()))  # a typed folder: under the server's folders


@st.cache_resource(show_spinner="Loading the reranker…")
def reranker(name: str, device_preference: str, trust_remote_code: bool) -> LoadedModel:
    # a rerank-api URL typed on a page must be on a host whoever runs the server allows (it would get the queries)
    check_remote_allowed(name, settings())
    return load_reranker(name, device(device_preference), settings(), trust_remote_code=trust_remote_code,
                         folder_roots=page_model_roots(settings()))


class _IndexSlot:
    """Holds one indexed corpus. Built outside the cached function so its progress bar can be drawn
    (Streamlit cannot replay elements drawn inside a cached function into a block made outside it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pipeline: RetrievalPipeline | None = None


@st.cache_resource(show_spinner=False)
def _index_slot(path: str, bi_name: str, device_preference: str, trust_remote_code: bool,
                passages: object) -> _IndexSlot:
    return _IndexSlot()


class CachedParts:
    """The pieces of a pipeline, from this module's caches (see ``explorer.spec.PipelineParts``)."""

    def dataset(self, path: str) -> Dataset:
        return dataset(path)

    def reranker(self, name: str, device_preference: str, trust_remote_code: bool) -> LoadedModel:
        return reranker(name, device_preference, trust_remote_code)

    def indexed(self, spec: PipelineSpec, progress: Progress | None) -> RetrievalPipeline:
        """The corpus embedded (or read from the on-disk cache) and indexed once per process."""
        slot = _index_slot(spec.dataset, spec.bi_encoder_name, spec.device, spec.trust_remote_code, spec.passages)
        with slot.lock:
            if slot.pipeline is None:
                model = bi_encoder(spec.bi_encoder_name, spec.device, spec.trust_remote_code)
                slot.pipeline = index_corpus(dataset(spec.dataset), model, spec.passages, settings(), progress)
            return slot.pipeline


    def bi_encoder(self, name: str, device_preference: str, trust_remote_code: bool) -> LoadedModel:
        return bi_encoder(name, device_preference, trust_remote_code)

    def milvus(self, spec: PipelineSpec, progress: Progress | None) -> RetrievalPipeline:
        """The spec's Milvus first stage, opened once per process (the collection is built once, then reopened)."""
        slot = _milvus_slot(spec.dataset, spec.bi_encoder_name, spec.device, spec.trust_remote_code, spec.passages,
                            spec.milvus)
        with slot.lock:
            if slot.pipeline is None:
                slot.pipeline = open_milvus(spec, self, settings(), progress)
            return slot.pipeline


@st.cache_resource(show_spinner=False)
def _milvus_slot(path: str, bi_name: str, device_preference: str, trust_remote_code: bool, passages: object,
                 source: object) -> _IndexSlot:
    return _IndexSlot()


def opened(spec: PipelineSpec, progress: Progress | None = None) -> OpenPipeline:
    """The pipeline ``spec`` names, opened the one way both doors open it, from the cached pieces."""
    return open_pipeline(spec, CachedParts(), score_cache(), progress)


# (spec, query) -> when a search last ran the models (a cached answer does not run the function)
_COMPUTED: dict[tuple[PipelineSpec, str], float] = {}


@st.cache_data(show_spinner=False, max_entries=512)
def search(spec: PipelineSpec, query: str) -> PipelineResult:
    """One query through both stages. Cached, so moving the threshold or n does not rerun the models."""
    result = opened(spec).search(query)
    _COMPUTED[(spec, query)] = time.monotonic()
    return result


def search_fresh(spec: PipelineSpec, query: str) -> tuple[PipelineResult, bool]:
    """``search``, and whether the models ran for this answer now (False: it came from the cache, and its stage
    times are those of the run that first computed it)."""
    asked = time.monotonic()
    result = search(spec, query)
    return result, _COMPUTED.get((spec, query), 0.0) >= asked


@st.cache_data(show_spinner="Reading the attention…", max_entries=16)
def pair_attention(reranker_name: str, device_preference: str, trust_remote_code: bool, query: str,
                   document: str) -> PairAttention:
    """The reranker's attention on one (query, document) pair, read once per pair and model."""
    return read_attention(reranker(reranker_name, device_preference, trust_remote_code), query, document)


@st.cache_resource(show_spinner="Preparing integrated gradients (a private copy of the reranker)…")
def gradient_explainer(reranker_name: str, device_preference: str, trust_remote_code: bool) -> GradientExplainer:
    """Integrated gradients for a reranker, on its own fp32 copy (made once per model)."""
    from explorer.explain.gradients import GradientExplainer

    return GradientExplainer(reranker(reranker_name, device_preference, trust_remote_code))

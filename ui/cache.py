"""The one module that holds Streamlit caches. Models and indexes live across reruns and browser sessions."""

from __future__ import annotations

import threading
from typing import Callable

import streamlit as st

from explorer.attention import PairAttention, read_attention
from explorer.loading import load_beir
from explorer.device import DeviceChoice, choose_device
from explorer.embedding_cache import EmbeddingCache
from explorer.models import LoadedModel, load_bi_encoder, load_reranker
from explorer.passages import OverLength, PassageOptions, count_over_length
from explorer.pipeline import FirstStage, PipelineResult, RetrievalPipeline
from explorer.records import Dataset
from explorer.settings import Settings


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def device(preference: str) -> DeviceChoice:
    return choose_device(preference)  # type: ignore[arg-type]


@st.cache_resource(show_spinner="Reading the data set…")
def dataset(path: str) -> Dataset:
    return load_beir(path)


@st.cache_resource(show_spinner=False)
def over_length(path: str, role: str, name: str, device_preference: str, trust_remote_code: bool) -> OverLength:
    """Documents a model reads only in part. A reranker also reads the query: about 32 of its tokens are kept for it."""
    loader, reserved = (bi_encoder, 2) if role == "bi-encoder" else (reranker, 32)
    model = loader(name, device_preference, trust_remote_code).model
    texts = [doc.full_text for doc in dataset(path).documents]
    return count_over_length(texts, model.tokenizer, model.max_seq_length, reserved=reserved)


@st.cache_resource(show_spinner="Loading the bi-encoder…")
def bi_encoder(name: str, device_preference: str, trust_remote_code: bool) -> LoadedModel:
    return load_bi_encoder(name, device(device_preference), settings(), trust_remote_code=trust_remote_code)


@st.cache_resource(show_spinner="Loading the reranker…")
def reranker(name: str, device_preference: str, trust_remote_code: bool) -> LoadedModel:
    return load_reranker(name, device(device_preference), settings(), trust_remote_code=trust_remote_code)


class _PipelineSlot:
    """Holds one built pipeline. Built outside the cached function so its progress bar can be drawn
    (Streamlit cannot replay elements drawn inside a cached function into a block made outside it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pipeline: RetrievalPipeline | None = None


@st.cache_resource(show_spinner=False)
def _pipeline_slot(path: str, bi_name: str, device_preference: str, trust_remote_code: bool,
                   passages: PassageOptions | None) -> _PipelineSlot:
    return _PipelineSlot()


def pipeline(path: str, bi_name: str, device_preference: str, trust_remote_code: bool,
             passages: PassageOptions | None = None,
             progress: Callable[[int, int], None] | None = None) -> RetrievalPipeline:
    """Corpus embedded (or read from the on-disk cache) and indexed once per process, without a reranker."""
    slot = _pipeline_slot(path, bi_name, device_preference, trust_remote_code, passages)
    with slot.lock:
        if slot.pipeline is None:
            cache = EmbeddingCache(settings().cache_dir / "embeddings")
            model = bi_encoder(bi_name, device_preference, trust_remote_code)
            slot.pipeline = RetrievalPipeline.build(dataset(path), model, None, cache, progress=progress,
                                                    passages=passages)
        return slot.pipeline


@st.cache_data(show_spinner=False, max_entries=512)
def search(path: str, bi_name: str, reranker_name: str | None, device_preference: str, trust_remote_code: bool,
           passages: PassageOptions | None, query: str, depth: int, blend: float = 1.0,
           first_stage: FirstStage = "dense") -> PipelineResult:
    """One query through both stages. Cached, so moving the threshold or n does not rerun the models."""
    base = pipeline(path, bi_name, device_preference, trust_remote_code, passages)
    second = reranker(reranker_name, device_preference, trust_remote_code) if reranker_name else None
    return base.with_reranker(second).search(query, depth=depth, blend=blend, first_stage=first_stage)


@st.cache_data(show_spinner="Reading the attention…", max_entries=16)
def pair_attention(reranker_name: str, device_preference: str, trust_remote_code: bool, query: str,
                   document: str) -> PairAttention:
    """The reranker's attention on one (query, document) pair, read once per pair and model."""
    return read_attention(reranker(reranker_name, device_preference, trust_remote_code), query, document)

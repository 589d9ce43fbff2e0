"""Second stage: score each (query, candidate) pair with a CrossEncoder, and reorder.

Scoring goes through the fast engine (``explorer.inference.engine``: length-sorted batches, bf16 where the
CPU has it) and the score cache (``explorer.rerank.score_cache``): pairs scored before by the same model, run the
same way, are not scored again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from explorer.inference.backends import EngineInfo
from explorer.inference.engine import InferenceEngine
from explorer.models.info import LoadedModel
from explorer.rerank.score_cache import ScoreCache


@dataclass(frozen=True)
class PairScores:
    """A reranker's scores of a query's candidates, in order, and how many were truncated or came from the cache."""

    raw: np.ndarray  # the model's own score (logit) per pair
    probability: np.ndarray | None  # sigmoid(raw) for single-logit trained rerankers, else None
    # pairs that reached the reranker's token limit: it did not read the rest of the document
    truncated: int = 0
    max_length: int = 0  # that limit, in tokens (query and document together)
    from_cache: int = 0  # pairs answered by the score cache
    ran: str = ""  # how the model ran for the pairs it scored, e.g. "openvino · bf16" (the cache key's, if none)


def score_pairs(reranker: LoadedModel, query: str, texts: Sequence[str],
                cache: ScoreCache | None = None) -> PairScores:
    """Raw scores in the order of ``texts``. With a ``cache``, pairs it knows are not scored again; without one
    (the benchmark, training), every pair is scored. Scoring takes turns with other threads scoring on the same
    model (the app's sessions) and may share a model call with them (``InferenceEngine.run_shared``)."""
    engine = reranker.engine
    if not texts:
        empty = np.zeros(0, dtype=np.float32)
        return PairScores(empty, empty if reranker.info.has_probability else None, max_length=engine.max_length)
    runs_as = engine.info()
    ran, key = runs_as.label, model_key(reranker, engine, runs_as)
    if getattr(engine, "whole_list", False):
        cache = None  # a listwise reranker's score of a document depends on the other candidates
    known = cache.get_many(key, query, texts) if cache is not None else [None] * len(texts)
    missing = [position for position, found in enumerate(known) if found is None]
    raw = np.array([found[0] if found is not None else np.nan for found in known], dtype=np.float32)
    cut = np.array([found[1] if found is not None else False for found in known], dtype=bool)
    if missing:
        output = engine.run_shared([(query, texts[position]) for position in missing], "scores")
        raw[missing] = relevance_column(output.values)
        cut[missing] = output.truncated
        if output.ran is not None and output.ran.label != ran:  # the engine's stages changed (int8 made meanwhile)
            ran, key = output.ran.label, model_key(reranker, engine, output.ran)
        if cache is not None:
            cache.put_many(key, query, [texts[position] for position in missing],
                           [(float(raw[p]), bool(cut[p])) for p in missing])
    probability = sigmoid(raw) if reranker.info.has_probability else None
    return PairScores(raw, probability, truncated=int(cut.sum()), max_length=engine.max_length,
                      from_cache=len(texts) - len(missing), ran=ran)


def relevance_column(values: np.ndarray) -> np.ndarray:
    """One score per pair from a model's outputs: multi-label models give one column per class, and the last is
    the "relevant" class by convention."""
    return values[:, -1] if values.ndim > 1 else values


def model_key(reranker: LoadedModel, engine: InferenceEngine, ran: EngineInfo) -> str:
    """Names the weights and how they ran (``ran``): the same pair run another way is another cache entry."""
    weights = reranker.info.fingerprint or f"engine:{engine.token}"
    return f"{weights}|{ran.label}|max_length={engine.max_length}"


def sigmoid(values: np.ndarray) -> np.ndarray:
    """The logistic function of each value, computed in float64, returned as float32."""
    return (1.0 / (1.0 + np.exp(-values.astype(np.float64)))).astype(np.float32)


def order_by_score(scores: Sequence[float]) -> list[int]:
    """Positions sorted by descending score; ties keep first-stage order (stable)."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i] if not math.isnan(scores[i]) else math.inf, i))

"""Second stage: score each (query, candidate) pair with a CrossEncoder, batched, and reorder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from explorer.device import inference_context
from explorer.models import LoadedModel


@dataclass(frozen=True)
class PairScores:
    raw: np.ndarray  # the model's own score (logit) per pair
    probability: np.ndarray | None  # sigmoid(raw) for single-logit trained rerankers, else None


def score_pairs(reranker: LoadedModel, query: str, texts: Sequence[str], batch_size: int = 32) -> PairScores:
    import torch

    if not texts:
        empty = np.zeros(0, dtype=np.float32)
        return PairScores(empty, empty if reranker.info.has_probability else None)
    pairs = [(query, text) for text in texts]
    with torch.inference_mode(), inference_context(reranker.device):
        raw = reranker.model.predict(
            pairs, batch_size=batch_size, activation_fn=torch.nn.Identity(), show_progress_bar=False,
            convert_to_numpy=True,
        )
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim > 1:
        # Multi-label models: the last column is the "relevant" class by convention.
        raw = raw[:, -1]
    probability = sigmoid(raw) if reranker.info.has_probability else None
    return PairScores(raw, probability)


def sigmoid(values: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-values.astype(np.float64)))).astype(np.float32)


def order_by_score(scores: Sequence[float]) -> list[int]:
    """Positions sorted by descending score; ties keep first-stage order (stable)."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i] if not math.isnan(scores[i]) else math.inf, i))

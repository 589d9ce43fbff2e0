"""Diversity: maximal marginal relevance on the bi-encoder's vectors, a cap per parent, and how redundant a top list is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def mmr_order(scores: Sequence[float], vectors: np.ndarray, lambda_: float, limit: int | None = None) -> list[int]:
    """Positions of ``scores`` in maximal-marginal-relevance order: each next one maximises
    ``lambda_ x score - (1 - lambda_) x`` its highest cosine to those already chosen (the first is the best score;
    ties go to the earlier position). ``vectors`` are one row per score. With ``limit``, only that many are placed."""
    count = len(scores)
    if count != len(vectors):
        raise ValueError(f"{count} scores but {len(vectors)} vectors; they must match.")
    if count == 0:
        return []
    unit = _unit_rows(vectors)
    similarity = unit @ unit.T
    values = np.asarray(scores, dtype=np.float64)
    closest = np.full(count, -np.inf)  # the highest cosine to a chosen one (none chosen yet)
    left = np.ones(count, dtype=bool)
    order: list[int] = []
    for _ in range(count if limit is None else min(limit, count)):
        penalty = np.where(np.isfinite(closest), closest, 0.0)
        objective = np.where(left, lambda_ * values - (1.0 - lambda_) * penalty, -np.inf)
        chosen = int(np.argmax(objective))  # the first of equal maxima
        order.append(chosen)
        left[chosen] = False
        closest = np.maximum(closest, similarity[chosen])
    return order


def cap_per_parent(parents: Sequence[str | None], limit: int) -> list[int]:
    """Positions (already in score order) with at most ``limit`` per parent kept in place; those over the limit move
    below all the kept ones, in their order. A position without a parent is its own parent."""
    counts: dict[str, int] = {}
    kept, moved = [], []
    for position, parent in enumerate(parents):
        key = parent if parent else f"\x00{position}"
        counts[key] = counts.get(key, 0) + 1
        (kept if counts[key] <= limit else moved).append(position)
    return kept + moved


@dataclass(frozen=True)
class Redundancy:
    """How much a top list repeats itself: the mean cosine of its pairs (bi-encoder vectors) and its distinct
    parents."""

    size: int
    mean_pairwise_cosine: float
    distinct_parents: int


def redundancy(vectors: np.ndarray, parents: Sequence[str]) -> Redundancy:
    """The redundancy of one list (its rows of ``vectors`` and its parents, in order)."""
    count = len(vectors)
    if count < 2:
        return Redundancy(count, 0.0, len(set(parents)))
    unit = _unit_rows(vectors)
    similarity = unit @ unit.T
    upper = similarity[np.triu_indices(count, k=1)]
    return Redundancy(count, float(upper.mean()), len(set(parents)))


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero)."""
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)

"""Blending the reranker with the first stage: ``w * z(reranker) + (1 - w) * z(first stage)``.

Scores are z-normalised over one query's candidates first, so models with any score scale can be blended.
A small reranker trained on little data often ranks best blended with the first stage it reorders; the
page shows the weight in use, and the model card of a reranker trained here records the weight that did
best on its held-out queries.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from explorer.errors import ConfigError
from explorer.records import Hit

RRF_K = 60  # the constant of Cormack, Clarke and Buettcher (2009)


def z_scores(values: Sequence[float]) -> list[float]:
    """Each value minus the mean, over the population standard deviation; all 0.0 when the values are equal."""
    if not values:
        return []
    mean = statistics.fmean(values)
    spread = statistics.pstdev(values)
    if spread == 0:
        return [0.0 for _ in values]
    return [(v - mean) / spread for v in values]


def blend_scores(reranker: Sequence[float], first_stage: Sequence[float], weight: float) -> list[float]:
    """Per candidate ``weight * z(reranker) + (1 - weight) * z(first stage)``; the weight must be in [0, 1]."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"The blend weight must be between 0 and 1, got {weight}.")
    if len(reranker) != len(first_stage):
        raise ConfigError("Reranker and first-stage scores must cover the same candidates.")
    return [weight * r + (1.0 - weight) * f for r, f in zip(z_scores(reranker), z_scores(first_stage))]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], depth: int, k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k + rank of d), best ``depth`` kept.

    Ties keep the order in which documents were first met (the first ranking wins). The passage kept for a
    document is the one from the first ranking that holds it."""
    fused: dict[str, float] = {}
    passage: dict[str, str | None] = {}
    for ranking in rankings:
        for hit in ranking:
            fused[hit.doc_id] = fused.get(hit.doc_id, 0.0) + 1.0 / (k + hit.rank)
            passage.setdefault(hit.doc_id, hit.passage_id)
    ordered = sorted(fused, key=lambda doc_id: -fused[doc_id])[:depth]  # sorted() is stable
    return [Hit(rank, doc_id, fused[doc_id], passage_id=passage[doc_id]) for rank, doc_id in enumerate(ordered, start=1)]

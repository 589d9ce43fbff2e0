"""How alike two rankings are, without labels: rank-biased overlap and the Jaccard index of the top k.

Rank-biased overlap (Webber, Moffat and Zobel, "A similarity measure for indefinite rankings", TOIS 2010)
weights agreement at the top more than further down: with persistence p, depth d counts p^(d-1) times as much
as depth 1. Here both lists are cut to the same depth k and the extrapolated form (their equation 32) is used:
RBO = (X_k / k) p^k + (1 - p) / p * sum_{d=1..k} (X_d / d) p^d, where X_d is the overlap of the top d. Two
identical lists score 1, two disjoint ones 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence


def rank_biased_overlap(first: Sequence[str], second: Sequence[str], k: int = 10, p: float = 0.9) -> float:
    """Extrapolated RBO of the two lists' top ``k`` (both cut to the shorter length if under k)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"The persistence p must be between 0 and 1 (exclusive), got {p}.")
    depth = min(k, len(first), len(second))
    if depth == 0:
        return 1.0 if not first and not second else 0.0
    seen_first: set[str] = set()
    seen_second: set[str] = set()
    overlap = 0
    total = 0.0
    for d in range(1, depth + 1):
        a, b = first[d - 1], second[d - 1]
        if a == b:
            overlap += 1
        else:
            overlap += (a in seen_second) + (b in seen_first)
        seen_first.add(a)
        seen_second.add(b)
        total += overlap / d * p ** d
    return overlap / depth * p ** depth + (1 - p) / p * total


def jaccard_at_k(first: Sequence[str], second: Sequence[str], k: int = 10) -> float:
    """|top k of first ∩ top k of second| / |their union| (1.0 for two empty lists)."""
    a, b = set(first[:k]), set(second[:k])
    return len(a & b) / len(a | b) if a | b else 1.0


@dataclass(frozen=True)
class StageAgreement:
    """Per query, how alike two rankings are; the queries where they differ most come first in ``most_different``."""

    rbo: dict[str, float]
    jaccard: dict[str, float]
    k: int

    @property
    def most_different(self) -> list[str]:
        """Query ids, lowest rank-biased overlap first: where judging tells most."""
        return sorted(self.rbo, key=lambda query_id: (self.rbo[query_id], query_id))


def stage_agreement(first: Mapping[str, Sequence[str]], second: Mapping[str, Sequence[str]],
                    k: int = 10) -> StageAgreement:
    """RBO and Jaccard@k per query, for the queries both ``first`` and ``second`` (query id -> ranked ids) hold."""
    shared = [query_id for query_id in first if query_id in second]
    return StageAgreement({q: rank_biased_overlap(first[q], second[q], k) for q in shared},
                          {q: jaccard_at_k(first[q], second[q], k) for q in shared}, k)

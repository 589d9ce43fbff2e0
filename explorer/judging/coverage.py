"""How much of what a stage ranks has a label: judged@k, and what to do with the holes.

An unjudged document counts as not relevant in trec_eval's convention, so a reranker that promotes documents
nobody judged looks worse (or a first stage better) than it is. judged@k, the share of a list's top k that has
a label, says how large that bias can be; the condensed list (unjudged documents removed, Sakai's condensed
lists) is the other way to count them, and the page says which one its numbers use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

Unjudged = Literal["not relevant", "removed"]
UNJUDGED_CHOICES: dict[str, str] = {
    "not relevant": "unjudged documents count as not relevant (the trec_eval default)",
    "removed": "unjudged documents are removed from each list before scoring (condensed lists)",
}
LOW_COVERAGE = 0.9  # under this judged@10, a page says the metric is biased and offers to judge the holes


def judged_at_k(ranked: Sequence[str], labels: Mapping[str, int], k: int = 10) -> float:
    """The share of the top ``k`` of ``ranked`` that has a label (of the top k it has, if shorter); 1.0 for an
    empty list (nothing is missing)."""
    top = list(ranked[:k])
    if not top:
        return 1.0
    return sum(1 for doc_id in top if doc_id in labels) / len(top)


def condensed(ranked: Sequence[str], labels: Mapping[str, int]) -> list[str]:
    """``ranked`` without the documents that have no label, in the same order."""
    return [doc_id for doc_id in ranked if doc_id in labels]


@dataclass(frozen=True)
class Coverage:
    """judged@k of one stage over a set of queries, and the queries whose judged@k is low."""

    stage: str
    k: int
    mean: float
    per_query: dict[str, float]
    holes: int  # unjudged documents in the top k, over every query

    @property
    def low_queries(self) -> list[str]:
        """The queries under ``LOW_COVERAGE``, least covered first: the ones to judge first."""
        return sorted((q for q, share in self.per_query.items() if share < LOW_COVERAGE),
                      key=lambda q: (self.per_query[q], q))

    @property
    def is_low(self) -> bool:
        """Whether the stage's mean judged@k is under ``LOW_COVERAGE``."""
        return self.mean < LOW_COVERAGE


def coverage(stage: str, rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]],
             k: int = 10) -> Coverage:
    """judged@k of ``stage`` for every query of ``rankings`` (query id -> ranked document ids)."""
    per_query = {query_id: judged_at_k(ranked, qrels.get(query_id, {}), k) for query_id, ranked in rankings.items()}
    holes = sum(1 for query_id, ranked in rankings.items() for doc_id in ranked[:k]
                if doc_id not in qrels.get(query_id, {}))
    mean = sum(per_query.values()) / len(per_query) if per_query else 1.0
    return Coverage(stage, k, mean, per_query, holes)

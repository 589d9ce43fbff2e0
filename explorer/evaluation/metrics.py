"""Ranking metrics over labelled queries, computed by ranx.

Names: ``ndcg@k`` (graded, linear gains as in trec_eval: gain = grade, discount log2(rank + 1)), ``mrr@k``,
``recall@k``, ``precision@k``, ``map@k`` or ``map``. Binary metrics count a document as relevant when its
grade is at least ``relevant_grade`` (1 by default: any positive grade).

Runs are given as ranked lists; they are passed to ranx as descending scores derived from rank, so ties in
the models' scores are broken exactly as the pipeline broke them. Recall is measured against every judged
relevant document, so positives the first stage never retrieved count against it. Queries without a
relevant document are left out of the means (and named by ``evaluated_queries``).
"""

from __future__ import annotations

import re
import warnings
from typing import Mapping, Sequence

from explorer.errors import ConfigError

RankedLists = Mapping[str, Sequence[str]]  # query id -> document ids, best first
Qrels = Mapping[str, Mapping[str, int]]  # query id -> document id -> grade
METRIC_NAMES = ("ndcg", "mrr", "recall", "precision", "map")
DEFAULT_METRICS = ("ndcg@10", "mrr@10", "recall@100", "precision@10", "map@100")
_NAME = re.compile(r"^(ndcg|mrr|recall|precision|map)(?:@([1-9][0-9]*))?$")


def check_metric(name: str) -> tuple[str, int | None]:
    """("ndcg", 10) for "ndcg@10"; a ConfigError that lists the valid names otherwise."""
    match = _NAME.match(name.strip().lower())
    if not match or (match.group(2) is None and match.group(1) != "map"):
        raise ConfigError(f"Unknown metric {name!r}. Use one of {', '.join(METRIC_NAMES)} with a cut-off, "
                          f"like ndcg@10, mrr@10, recall@100, precision@5, map@100 (or map without one).")
    return match.group(1), int(match.group(2)) if match.group(2) else None


def evaluated_queries(qrels: Qrels, ranked: RankedLists, relevant_grade: int = 1) -> list[str]:
    """The queries of ``ranked`` that have at least one relevant judged document."""
    return [q for q in ranked if q in qrels and any(g >= relevant_grade for g in qrels[q].values())]


def per_query_metrics(qrels: Qrels, ranked: RankedLists, metrics: Sequence[str],
                      relevant_grade: int = 1) -> dict[str, dict[str, float]]:
    """{metric: {query id: value}} for every evaluated query (see ``evaluated_queries``)."""
    from ranx import Qrels as RanxQrels
    from ranx import Run, evaluate

    names = [name.strip().lower() for name in metrics]
    for name in names:
        check_metric(name)
    if relevant_grade < 1:
        raise ConfigError(f"The relevant grade must be at least 1, got {relevant_grade}.")
    queries = evaluated_queries(qrels, ranked, relevant_grade)
    if not queries:
        raise ConfigError("No query of this run has a relevant label; nothing to evaluate. Check the split "
                          "and that the labels' query ids match the queries.")
    run = Run({q: {d: float(len(ranked[q]) - i) for i, d in enumerate(ranked[q])} or {"__none__": 0.0}
               for q in queries})
    graded = RanxQrels({q: {d: int(g) for d, g in qrels[q].items() if g > 0} for q in queries})
    binary = RanxQrels({q: {d: 1 for d, g in qrels[q].items() if g >= relevant_grade} for q in queries})
    out: dict[str, dict[str, float]] = {}
    for name in names:
        judged = graded if name.startswith("ndcg") else binary
        with warnings.catch_warnings():
            # ranx's compiled nDCG casts its counters between integer types; harmless, and noisy on every call
            warnings.filterwarnings("ignore", message="unsafe cast from uint64 to int64")
            values = evaluate(judged, run, name, return_mean=False, make_comparable=True)
        out[name] = {q: float(v) for q, v in zip(run.keys(), values)}
    return out


def mean_metrics(qrels: Qrels, ranked: RankedLists, metrics: Sequence[str],
                 relevant_grade: int = 1) -> dict[str, float]:
    """Mean of each metric over the evaluated queries of ``ranked``."""
    per_query = per_query_metrics(qrels, ranked, metrics, relevant_grade)
    return {name: sum(values.values()) / len(values) for name, values in per_query.items()}

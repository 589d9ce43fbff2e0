"""Ranking metrics over labelled queries, computed by trec_eval's own code (pytrec_eval, through ir-measures).

Names: ``ndcg@k`` (graded, linear gains as in trec_eval: gain = grade, discount log2(rank + 1)), ``mrr@k``,
``recall@k``, ``precision@k``, ``map@k`` or ``map``. Binary metrics count a document as relevant when its
grade is at least ``relevant_grade`` (1 by default: any positive grade).

Runs are given as ranked lists; they are passed on as descending scores derived from rank, so ties in the
models' scores are broken exactly as the pipeline broke them. trec_eval's reciprocal rank has no cut-off, so
``mrr@k`` reads the first k of each list. Recall is measured against every judged
relevant document, so positives the first stage never retrieved count against it. Queries without a
relevant document are left out of the means (and named by ``evaluated_queries``).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

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
    import ir_measures

    names = [name.strip().lower() for name in metrics]
    parsed = {name: check_metric(name) for name in names}
    if relevant_grade < 1:
        raise ConfigError(f"The relevant grade must be at least 1, got {relevant_grade}.")
    queries = evaluated_queries(qrels, ranked, relevant_grade)
    if not queries:
        raise ConfigError("No query of this run has a relevant label; nothing to evaluate. Check the split "
                          "and that the labels' query ids match the queries.")
    graded = {q: {d: int(g) for d, g in qrels[q].items() if g > 0} for q in queries}
    binary = {q: {d: 1 for d, g in qrels[q].items() if g >= relevant_grade} for q in queries}
    whole = _run(ranked, queries)
    out: dict[str, dict[str, float]] = {}
    for name, (kind, k) in parsed.items():
        run = _run({q: ranked[q][:k] for q in queries}, queries) if kind == "mrr" else whole
        judged = graded if kind == "ndcg" else binary
        values = {found.query_id: float(found.value)
                  for found in ir_measures.pytrec_eval.iter_calc([_measure(kind, k)], judged, run)}
        out[name] = {q: values.get(q, 0.0) for q in queries}
    return out


def _run(ranked: RankedLists, queries: Sequence[str]) -> dict[str, dict[str, float]]:
    """The lists of ``queries`` as trec_eval reads a run: descending scores from rank (an empty list gets one
    placeholder document, so that the query is still scored, as 0)."""
    return {q: {d: float(len(ranked[q]) - i) for i, d in enumerate(ranked[q])} or {"__none__": 0.0} for q in queries}


def _measure(kind: str, k: int | None) -> Any:
    """The ir-measures measure of a metric (``check_metric``'s kind and cut-off) that trec_eval computes."""
    from ir_measures import AP, RR, P, R, nDCG

    if kind == "mrr":
        return RR  # trec_eval's has no cut-off: the lists are cut at k before
    measure = {"ndcg": nDCG, "recall": R, "precision": P, "map": AP}[kind]
    return measure if k is None else measure @ k


def mean_metrics(qrels: Qrels, ranked: RankedLists, metrics: Sequence[str],
                 relevant_grade: int = 1) -> dict[str, float]:
    """Mean of each metric over the evaluated queries of ``ranked``."""
    per_query = per_query_metrics(qrels, ranked, metrics, relevant_grade)
    return {name: sum(values.values()) / len(values) for name, values in per_query.items()}

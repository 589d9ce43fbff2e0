"""Ranking metrics over labelled queries, computed by ranx (graded nDCG uses 2^grade - 1 gains).

Runs are given as ranked lists; they are passed to ranx as descending scores derived from rank, so ties in
the models' scores are broken exactly as the pipeline broke them.
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

from explorer.errors import ConfigError

RankedLists = Mapping[str, Sequence[str]]  # query id -> document ids, best first


def mean_metrics(qrels: Mapping[str, Mapping[str, int]], ranked: RankedLists, metrics: Sequence[str]) -> dict[str, float]:
    """Mean of each metric over the queries of ``ranked`` that have labels (names as ranx spells them)."""
    from ranx import Qrels, Run, evaluate

    queries = [q for q in ranked if q in qrels and any(g > 0 for g in qrels[q].values())]
    if not queries:
        raise ConfigError("No query of this run has a positive label; nothing to evaluate.")
    ranx_qrels = Qrels({q: {d: int(g) for d, g in qrels[q].items() if g > 0} for q in queries})
    ranx_run = Run({q: {d: float(len(ranked[q]) - i) for i, d in enumerate(ranked[q])} or {"__none__": 0.0}
                    for q in queries})
    with warnings.catch_warnings():
        # ranx's compiled nDCG casts its counters between integer types; harmless, and noisy on every call
        warnings.filterwarnings("ignore", message="unsafe cast from uint64 to int64")
        result = evaluate(ranx_qrels, ranx_run, list(metrics), make_comparable=True)
    if isinstance(result, float):  # ranx returns a float for a single metric
        result = {metrics[0]: result}
    return {name: float(value) for name, value in result.items()}

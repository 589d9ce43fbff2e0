"""Several configurations (first stage x reranker) side by side on the same labelled queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from explorer.errors import ConfigError
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.significance import PairedComparison, Test, paired_test


@dataclass(frozen=True)
class ComparisonRow:
    """One configuration in a comparison: its mean metrics, median latency and paired test against the baseline."""

    name: str
    stage: str  # "first_stage" or "reranked": the list this row scores (the last stage that ran)
    metrics: dict[str, float]
    latency_ms: float  # median total per query: encoding + first stage + reranking
    rerank_ms: float
    versus_baseline: PairedComparison | None  # None for the baseline row itself


def final_stage(evaluation: Evaluation) -> str:
    """The stage a configuration is judged on: "reranked" when a reranker ran, else "first_stage"."""
    return "reranked" if evaluation.has_reranker else "first_stage"


def compare(evaluations: Sequence[Evaluation], metrics: Sequence[str], test_metric: str = "ndcg@10",
            test: Test = "paired t-test", relevant_grade: int = 1) -> list[ComparisonRow]:
    """One row per evaluation; the first one is the baseline the others are tested against."""
    if not evaluations:
        raise ConfigError("Nothing to compare: evaluate at least one configuration.")
    names = list(dict.fromkeys([*metrics, test_metric]))
    scores = []
    for evaluation in evaluations:
        stage = final_stage(evaluation)
        # the evaluation's own per-query values: computed once, shared with its pages, tables and snapshots
        scores.append({name: evaluation.stage_values(stage, name, relevant_grade) for name in names})
    rows = []
    for position, (evaluation, per_query) in enumerate(zip(evaluations, scores)):
        latency = evaluation.latency_ms()
        versus = None
        if position > 0:
            versus = paired_test(scores[0][test_metric], per_query[test_metric], test_metric, test)
        rows.append(ComparisonRow(
            name=evaluation.name, stage=final_stage(evaluation),
            metrics={n: sum(v.values()) / len(v) for n, v in per_query.items() if n in metrics},
            latency_ms=latency["query_encoding"] + latency["first_stage"] + latency["rerank"],
            rerank_ms=latency["rerank"], versus_baseline=versus,
        ))
    return rows

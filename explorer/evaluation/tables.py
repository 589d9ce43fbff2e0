"""An evaluation as tables: metrics per stage (CSV, JSON), every query's change, configurations compared."""

from __future__ import annotations

import json
from typing import Sequence

import pandas as pd

from explorer.evaluation.comparison import ComparisonRow
from explorer.evaluation.metrics import DEFAULT_METRICS
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.significance import PairedComparison
from explorer.judging.coverage import coverage
from explorer.views.number_format import P_VALUE_COLUMN

STAGE_NAMES = {"first_stage": "first stage", "reranked": "reranked"}
JUDGED_K = 10  # the cut-off of judged@k, as every page shows it


def judged_at(evaluation: Evaluation, k: int = JUDGED_K) -> dict[str, float]:
    """{stage: judged@k}: the mean share of each stage's top ``k`` that has a label, by ``coverage``, the function the
    pages show it with."""
    return {stage: coverage(stage, evaluation.ranked(stage), evaluation.qrels, k).mean for stage in evaluation.stages()}


def metrics_table(evaluations: Sequence[Evaluation], metrics: Sequence[str] = DEFAULT_METRICS,
                  relevant_grade: int = 1) -> pd.DataFrame:
    """One row per (configuration, stage): the metrics, judged@10 and the median latency per query."""
    rows = []
    for evaluation in evaluations:
        latency = evaluation.latency_ms()
        judged = judged_at(evaluation)
        for stage, values in evaluation.metrics(metrics, relevant_grade).items():
            rows.append({"configuration": evaluation.name, "stage": STAGE_NAMES[stage],
                         "queries": len(evaluation.outcomes), "depth": evaluation.config.depth,
                         **{name: round(value, 4) for name, value in values.items()},
                         f"judged@{JUDGED_K}": round(judged[stage], 4),
                         "query encoding ms": round(latency["query_encoding"], 1),
                         "first stage ms": round(latency["first_stage"], 1),
                         "rerank ms": round(latency["rerank"], 1) if stage == "reranked" else 0.0})
    return pd.DataFrame(rows)


def summary_json(evaluation: Evaluation, metrics: Sequence[str] = ("ndcg@10", "mrr@10", "recall@100"),
                 relevant_grade: int = 1) -> dict:
    """The CLI's JSON: n_queries, first_stage and reranked metrics, judged@10 of each stage, median latency per query
    and stage."""
    values = evaluation.metrics(metrics, relevant_grade)
    judged = judged_at(evaluation)
    latency = evaluation.latency_ms()
    return {
        "n_queries": len(evaluation.outcomes),
        "split": evaluation.config.split,
        "first_stage_method": evaluation.config.first_stage_method,
        "depth": evaluation.config.depth,
        "bi_encoder": evaluation.bi_encoder if evaluation.config.first_stage_method != "bm25" else None,
        "reranker": evaluation.reranker,
        "reranker_asked_for": evaluation.reranker_requested or evaluation.reranker,
        "blend": evaluation.config.blend if evaluation.has_reranker else None,
        "first_stage": values["first_stage"],
        "reranked": values.get("reranked"),
        f"judged@{JUDGED_K}": {stage: round(share, 4) for stage, share in judged.items()},
        "latency_ms": {name: round(value, 2) for name, value in latency.items()},
    }


def metrics_json(table: pd.DataFrame) -> str:
    """A table (as from ``metrics_table``) as an indented JSON list with one object per row."""
    return json.dumps(table.to_dict(orient="records"), indent=2)


def per_query_table(evaluation: Evaluation, metric: str = "ndcg@10", relevant_grade: int = 1) -> pd.DataFrame:
    """Query id, text, the metric for each stage and the change; biggest losses first."""
    values = evaluation.per_query(metric, relevant_grade)
    first = values["first_stage"]
    rows = []
    for query_id, before in first.items():
        row = {"query": query_id, "text": evaluation.query_texts.get(query_id, ""), f"first stage {metric}": before}
        if "reranked" in values:
            after = values["reranked"][query_id]
            row[f"reranked {metric}"] = after
            row["change"] = after - before
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values("change", kind="stable") if "change" in table else table


def comparison_table(rows: Sequence[ComparisonRow], alpha: float = 0.05) -> pd.DataFrame:
    """One row per configuration: its metrics, latency and rerank time (ms), and its paired test against the baseline
    in columns of their own (the change in the tested metric, wins / losses / ties, the p-value, the verdict at
    ``alpha``), so that no figure is cut off in a long line. Numbers are kept whole; pages format them with
    ``explorer.views.number_format``."""
    tested = next((row.versus_baseline for row in rows if row.versus_baseline), None)
    change = f"Δ {tested.metric}" if tested else "Δ"
    table = []
    for row in rows:
        versus = row.versus_baseline
        table.append({
            "configuration": row.name, **row.metrics, "latency ms": row.latency_ms, "rerank ms": row.rerank_ms,
            change: versus.mean_delta if versus else None,
            "wins / losses / ties": f"{versus.wins} / {versus.losses} / {versus.ties}" if versus else "",
            P_VALUE_COLUMN: versus.p_value if versus else None,
            "vs baseline": _verdict(versus, alpha),
        })
    frame = pd.DataFrame(table)
    for column in (change, P_VALUE_COLUMN):
        frame[column] = frame[column].astype(float)  # None for the baseline: an empty cell, not an object column
    return frame


def _verdict(versus: PairedComparison | None, alpha: float) -> str:
    if versus is None:
        return "baseline"
    if versus.p_value is None:
        return f"not computed ({versus.note})"
    if versus.p_value >= alpha:
        return f"no significant difference at α = {alpha:g}"
    return f"{'better' if versus.mean_delta > 0 else 'worse'}, significant at α = {alpha:g}"

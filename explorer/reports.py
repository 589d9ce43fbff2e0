"""The evaluation as a report someone can read without the tool: one self-contained HTML file."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from explorer.comparison import ComparisonRow
from explorer.depth_sweep import DepthPoint
from explorer.evaluation import Evaluation
from explorer.evaluation_charts import (comparison_scatter, depth_figure, per_query_delta_figure,
                                        threshold_curves_figure, threshold_distribution_figure)
from explorer.exports import ReportSection, html_report, metrics_table
from explorer.metrics import DEFAULT_METRICS
from explorer.significance import paired_test
from explorer.thresholds import threshold_sweep


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


def comparison_table(rows: Sequence[ComparisonRow]) -> pd.DataFrame:
    return pd.DataFrame([{
        "configuration": row.name, **{k: round(v, 4) for k, v in row.metrics.items()},
        "latency ms": round(row.latency_ms, 1), "rerank ms": round(row.rerank_ms, 1),
        "vs baseline": row.versus_baseline.summary() if row.versus_baseline else "baseline",
    } for row in rows])


def evaluation_report(evaluation: Evaluation, metrics: Sequence[str] = DEFAULT_METRICS, metric: str = "ndcg@10",
                      relevant_grade: int = 1, depth_points: Sequence[DepthPoint] = (),
                      comparison: Sequence[ComparisonRow] = (), threshold_top_n: int = 10) -> str:
    config = evaluation.config
    about = (f"Split '{config.split}', {len(evaluation.outcomes)} labelled queries. First stage: {config.first_stage}"
             + (f" (bi-encoder {evaluation.bi_encoder})" if config.first_stage != "bm25" else "")
             + f", depth {config.depth}. Reranker: {evaluation.reranker or 'none'}"
             + (f", blended with the first stage at weight {config.blend:g}" if evaluation.has_reranker
                and config.blend < 1 else "")
             + f". Binary metrics count grade {relevant_grade} and above as relevant; nDCG uses the grades. "
             "Latency is the median per query on the machine that ran the evaluation.")
    sections = [ReportSection("Summary", about), ReportSection("Metrics", table=metrics_table([evaluation], metrics,
                                                                                                relevant_grade))]
    if evaluation.has_reranker:
        per_query = evaluation.per_query(metric, relevant_grade)
        test = paired_test(per_query["first_stage"], per_query["reranked"], metric)
        deltas = {q: per_query["reranked"][q] - per_query["first_stage"][q] for q in per_query["first_stage"]}
        sections.append(ReportSection("Does the reranker help?", test.summary(),
                                      figure=per_query_delta_figure(deltas, metric, evaluation.query_texts)))
        sweep = threshold_sweep(evaluation, top_n=threshold_top_n, relevant_grade=relevant_grade)
        suggestion = sweep.suggest(0.8)
        sections.append(ReportSection(
            "Score threshold",
            f"Scores of the top {threshold_top_n} reranked results of each query. "
            + (f"For precision 0.8, keep results at or above {suggestion.threshold:.4g}: recall "
               f"{suggestion.recall:.2f}, {suggestion.queries_left_empty:.0%} of queries left with no result."
               if suggestion else "No threshold reaches precision 0.8 on these queries."),
            figure=threshold_distribution_figure(sweep)))
        sections.append(ReportSection("Kept results against the threshold", figure=threshold_curves_figure(
            sweep, suggestion.threshold if suggestion else None)))
    if depth_points:
        sections.append(ReportSection("Depth and cost", figure=depth_figure(depth_points)))
    if comparison:
        sections.append(ReportSection("Configurations compared", table=comparison_table(comparison),
                                      figure=comparison_scatter(comparison, metric)))
    sections.append(ReportSection(f"Every query ({metric})", table=per_query_table(evaluation, metric,
                                                                                  relevant_grade).round(4)))
    return html_report(f"Retrieval evaluation: {evaluation.name}", sections)

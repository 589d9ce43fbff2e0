"""What an evaluation can be taken away as: TREC run files, metric tables (CSV, JSON), a standalone HTML report.

The report carries plotly.js inline, so it opens with no network; every piece of text from the data (query
text, names) is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go

from explorer.evaluation import Evaluation
from explorer.metrics import DEFAULT_METRICS

STAGE_NAMES = {"first_stage": "first stage", "reranked": "reranked"}


def trec_run(evaluation: Evaluation, stage: str, tag: str | None = None) -> str:
    """Six columns per line: query id, Q0, document id, rank, score, run tag (scores descend with rank)."""
    evaluation.ranked(stage)  # raises a clear error for a stage that did not run
    tag = (tag or f"{evaluation.config.first_stage}-{stage}").replace(" ", "_")
    lines = []
    for outcome in evaluation.outcomes:
        if stage == "reranked":
            ids, scores = outcome.reranked or (), outcome.reranker_scores or ()
            if evaluation.config.blend < 1.0:  # the order is the blend's; write rank-derived scores to keep it
                scores = tuple(float(len(ids) - i) for i in range(len(ids)))
        else:
            ids, scores = outcome.first_stage, outcome.first_stage_scores
        lines += [f"{outcome.query_id} Q0 {doc_id} {rank} {score:.6f} {tag}"
                  for rank, (doc_id, score) in enumerate(zip(ids, scores), start=1)]
    return "\n".join(lines) + "\n"


def metrics_table(evaluations: Sequence[Evaluation], metrics: Sequence[str] = DEFAULT_METRICS,
                  relevant_grade: int = 1) -> pd.DataFrame:
    """One row per (configuration, stage): the metrics and the median latency per query."""
    rows = []
    for evaluation in evaluations:
        latency = evaluation.latency_ms()
        for stage, values in evaluation.metrics(metrics, relevant_grade).items():
            rows.append({"configuration": evaluation.name, "stage": STAGE_NAMES[stage],
                         "queries": len(evaluation.outcomes), "depth": evaluation.config.depth,
                         **{name: round(value, 4) for name, value in values.items()},
                         "query encoding ms": round(latency["query_encoding"], 1),
                         "first stage ms": round(latency["first_stage"], 1),
                         "rerank ms": round(latency["rerank"], 1) if stage == "reranked" else 0.0})
    return pd.DataFrame(rows)


def summary_json(evaluation: Evaluation, metrics: Sequence[str] = ("ndcg@10", "mrr@10", "recall@100"),
                 relevant_grade: int = 1) -> dict:
    """The CLI's JSON: n_queries, first_stage and reranked metrics, median latency per query and stage."""
    values = evaluation.metrics(metrics, relevant_grade)
    latency = evaluation.latency_ms()
    return {
        "n_queries": len(evaluation.outcomes),
        "split": evaluation.config.split,
        "first_stage_kind": evaluation.config.first_stage,
        "depth": evaluation.config.depth,
        "bi_encoder": evaluation.bi_encoder if evaluation.config.first_stage != "bm25" else None,
        "reranker": evaluation.reranker,
        "blend": evaluation.config.blend if evaluation.has_reranker else None,
        "first_stage": values["first_stage"],
        "reranked": values.get("reranked"),
        "latency_ms": {name: round(value, 2) for name, value in latency.items()},
    }


@dataclass(frozen=True)
class ReportSection:
    title: str
    text: str = ""  # plain text, escaped when written
    table: pd.DataFrame | None = None
    figure: go.Figure | None = None


def html_report(title: str, sections: Sequence[ReportSection], generated: dt.datetime | None = None) -> str:
    """A single HTML file: headings, tables and Plotly charts, with plotly.js inline (no network needed)."""
    generated = generated or dt.datetime.now(dt.timezone.utc)
    parts = [
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#1f2328}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right}"
        "th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}p.note{color:#59636e}</style>",
        "</head><body>", f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Generated {html.escape(generated.strftime('%Y-%m-%d %H:%M UTC'))} by the relevance explorer.</p>",
    ]
    plotly_included = False
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts += [f"<p>{html.escape(paragraph)}</p>" for paragraph in section.text.split("\n\n")]
        if section.table is not None:
            parts.append(section.table.to_html(index=False, escape=True, border=0))
        if section.figure is not None:
            parts.append(section.figure.to_html(full_html=False, include_plotlyjs=not plotly_included,
                                                config={"displaylogo": False}))
            plotly_included = True
    parts.append("</body></html>")
    return "\n".join(parts)


def metrics_json(table: pd.DataFrame) -> str:
    return json.dumps(table.to_dict(orient="records"), indent=2)

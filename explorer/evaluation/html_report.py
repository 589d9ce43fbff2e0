"""The evaluation as a report someone can read without the tool: one self-contained HTML file.

The report carries plotly.js inline, so it opens with no network; every piece of text from the data (query
text, names) is escaped. plotly.js (the plotly package's own file, 4.8 MB) is nearly all of a report's weight, so
it goes in once, gzipped (1.5 MB, 2 MB as base64), and the browser unpacks it (``DecompressionStream``) before it
draws the charts, each given as its figure's JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import gzip
import html
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import plotly.graph_objects as go

from explorer.evaluation.charts import (
    comparison_scatter,
    depth_figure,
    threshold_curves_figure,
    threshold_distribution_figure,
)
from explorer.evaluation.comparison import ComparisonRow
from explorer.evaluation.depth_sweep import DepthPoint
from explorer.evaluation.metrics import DEFAULT_METRICS
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.tables import comparison_table, metrics_table, per_query_table
from explorer.evaluation.thresholds import threshold_sweep
from explorer.grades import GradeScale
from explorer.judging.coverage import UNJUDGED_CHOICES, coverage
from explorer.views.number_format import column_formats


@dataclass(frozen=True)
class ReportSection:
    """One section of the HTML report: a heading, then optional text, table and figure, in that order."""

    title: str
    text: str = ""  # plain text, escaped when written
    table: pd.DataFrame | None = None
    figure: go.Figure | None = None


def report_file_name(*parts: str) -> str:
    """A file name for a report of ``parts`` (a data set, a snapshot's name, a split...) that any system and any
    download keeps as it is: letters, digits, '-', '_' and '.' only, each run of other characters one '-';
    "kb", "dense + reranker, before tuning" -> "kb.dense-reranker-before-tuning.report.html"."""
    return ".".join([*(safe_file_part(part) for part in parts), "report", "html"])


def safe_file_part(text: str) -> str:
    """``text`` with accents taken off its letters ("été" -> "ete"), each run of other characters than ASCII
    letters, digits, '-', '_' and '.' made one '-', and no '-' or '.' at either end ("report" when nothing is left)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-.") or "report"


def html_report(title: str, sections: Sequence[ReportSection], generated: dt.datetime | None = None) -> str:
    """A single HTML file: headings, tables and Plotly charts, with plotly.js inline once, gzipped (no network
    needed). Numbers in the tables follow ``explorer.views.number_format``."""
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
    charts = 0
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts += [f"<p>{html.escape(paragraph)}</p>" for paragraph in section.text.split("\n\n")]
        if section.table is not None:
            parts.append(table_html(section.table))
        if section.figure is not None:
            charts += 1
            parts.append(chart_block(section.figure, charts))
    if charts:
        parts.append(charts_script())
    parts.append("</body></html>")
    return "\n".join(parts)


def chart_block(figure: go.Figure, number: int) -> str:
    """A place for chart ``number`` of a page and its figure's JSON, drawn by ``charts_script``. Margins wide enough
    for tick labels and axis titles (a page's figures are drawn narrower than on screen)."""
    readable = go.Figure(figure)
    margin = readable.layout.margin
    readable.update_layout(margin=dict(l=max(margin.l or 0, 70), r=max(margin.r or 0, 30), t=max(margin.t or 0, 60),
                                       b=max(margin.b or 0, 50)))
    readable.update_xaxes(automargin=True)
    readable.update_yaxes(automargin=True)
    # "<" escaped inside the JSON, so no text of the data can close the script element
    data = readable.to_json().replace("<", "\\u003c")
    return (f"<div class='chart' id='chart-{number}'></div>\n"
            f"<script type='application/json' id='chart-{number}-figure'>{data}</script>")


def charts_script() -> str:
    """plotly.js, packed, and the script that unpacks it and draws every ``chart_block`` of the page (once, at the
    end of a page that has charts)."""
    return (f"<script type='application/octet-stream' id='plotly-js'>{_packed_plotly_js()}</script>\n"
            f"<script>{_DRAW_CHARTS}</script>")


# Unpacks plotly.js, runs it, then draws each chart from its JSON; says why where a browser cannot.
_DRAW_CHARTS = """
(async () => {
  const packed = atob(document.getElementById("plotly-js").textContent);
  const bytes = Uint8Array.from(packed, (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const code = document.createElement("script");
  code.text = await new Response(stream).text();
  document.head.appendChild(code);
  for (const holder of document.querySelectorAll("div.chart")) {
    const figure = JSON.parse(document.getElementById(holder.id + "-figure").textContent);
    Plotly.newPlot(holder, figure.data, figure.layout, {displaylogo: false, responsive: true});
  }
})().catch((error) => {
  for (const holder of document.querySelectorAll("div.chart")) {
    holder.textContent = "This browser could not draw the chart (it needs DecompressionStream): " + error;
  }
});
"""


@functools.lru_cache(maxsize=1)
def _packed_plotly_js() -> str:
    """The plotly package's own plotly.min.js, gzipped and base64-encoded (read and packed once per process)."""
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return base64.b64encode(gzip.compress(source.read_bytes(), compresslevel=9, mtime=0)).decode("ascii")


def table_html(table: pd.DataFrame) -> str:
    """``table`` as HTML, its numbers written by the pages' rule, empty cells for missing values."""
    formats = column_formats(table)
    formatters = {name: (lambda value, fmt=fmt: "" if pd.isna(value) else fmt % value)
                  for name, fmt in formats.items()}
    # a wide table scrolls inside the page instead of running past its edge
    return ("<div style='overflow-x:auto'>"
            + table.to_html(index=False, escape=True, border=0, formatters=formatters, na_rep="") + "</div>")


def evaluation_report(evaluation: Evaluation, metrics: Sequence[str] = DEFAULT_METRICS, metric: str = "ndcg@10",
                      relevant_grade: int = 1, depth_points: Sequence[DepthPoint] = (),
                      comparison: Sequence[ComparisonRow] = (), threshold_top_n: int = 10, labels: str = "",
                      titles: Callable[[str], str] = str, scale: GradeScale | None = None,
                      explain_with: tuple[Callable[[str, Sequence[str]], Any], Callable[[str], str]] | None = None,
                      ) -> str:
    """The evaluation as one self-contained HTML page. With a reranker, it is the story of the reranked list against
    the first stage (``explorer.evaluation.story_report``: headline, examples, cost, caveat), then the summary,
    metrics, threshold, depth and comparison sections, with every query folded at the end; without one, the summary
    and metrics. ``titles``: a document's title by id, for the examples; ``scale``: the data set's grade scale (by
    default, the one the evaluation's labels use); ``explain_with``: (the reranker's scorer, a document's text by id)
    to explain each example's top result (``story_report.example_explanations``)."""
    config = evaluation.config
    about = (f"Split '{config.split}', {len(evaluation.outcomes)} labelled queries. First stage: {config.first_stage_method}"
             + (f" (bi-encoder {evaluation.bi_encoder})" if config.first_stage_method != "bm25" else "")
             + f", depth {config.depth}. Reranker: {evaluation.reranker or 'none'}"
             + (f" (asked for {evaluation.reranker_requested})" if evaluation.reranker_requested else "")
             + (f", blended with the first stage at weight {config.blend:g}" if evaluation.has_reranker
                and config.blend < 1 else "")
             + f". Binary metrics count grade {relevant_grade} and above as relevant; nDCG uses the grades. "
             "Latency is the median per query on the machine that ran the evaluation. judged@10 (the share of each "
             "list's top 10 that has a label): "
             + ", ".join(f"{stage.replace('_', ' ')} {coverage(stage, evaluation.ranked(stage), evaluation.qrels).mean:.2f}"
                         for stage in evaluation.stages())
             + f"; {UNJUDGED_CHOICES[evaluation.unjudged]}."
             + (f" Labels: {labels}." if labels else ""))
    # one configuration: its name is the report's title, not a column repeated on every row
    metrics_shown = metrics_table([evaluation], metrics, relevant_grade).drop(columns=["configuration"],
                                                                              errors="ignore")
    sections = [ReportSection("Summary", about), ReportSection("Metrics", table=metrics_shown)]
    if evaluation.has_reranker:
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
    every_query = per_query_table(evaluation, metric, relevant_grade)
    title = f"Retrieval evaluation: {evaluation.name}"
    if evaluation.has_reranker:
        from explorer.evaluation.story import stage_sides, tell
        from explorer.evaluation.story_report import example_explanations, story_report

        story = tell(*stage_sides(evaluation), metric, relevant_grade=relevant_grade, titles=titles)
        explained = example_explanations(story, *explain_with) if explain_with is not None else None
        return story_report(story, scale or GradeScale.of([evaluation.qrels]), evaluation.query_texts,
                            appendix=sections, every_query=every_query, title=title, explanations=explained)
    sections.append(ReportSection(f"Every query ({metric})", table=every_query))
    return html_report(title, sections)

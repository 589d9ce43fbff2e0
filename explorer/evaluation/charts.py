"""Plotly figures for the evaluation, threshold and comparison pages (and the HTML report).

Query text is untrusted like document text: it passes through ``plotly_text`` before reaching a figure.
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.evaluation.comparison import ComparisonRow
from explorer.evaluation.cascade_sweep import CascadeSweep
from explorer.evaluation.depth_sweep import DepthPoint
from explorer.evaluation.score_calibration import CalibrationReport, Reliability
from explorer.evaluation.thresholds import ThresholdSweep
from explorer.views.number_format import PLOTLY_METRIC
from explorer.views.plotly_text import plotly_text

FIRST_COLOUR, RERANKED_COLOUR, COST_COLOUR = "#0969da", "#8250df", "#bc4c00"
WIN, LOSS, TIE = "#1a7f37", "#cf222e", "#8c959f"


def per_query_delta_figure(deltas: dict[str, float], metric: str, texts: dict[str, str],
                           change: str = "reranked − first stage") -> go.Figure:
    """One bar per query, sorted: ``change`` (by default, reranked minus first stage)."""
    ordered = sorted(deltas.items(), key=lambda item: item[1])
    colours = [WIN if d > 1e-9 else LOSS if d < -1e-9 else TIE for _, d in ordered]
    hover = [plotly_text(texts.get(q, q)[:90]) for q, _ in ordered]
    figure = go.Figure(go.Bar(x=list(range(1, len(ordered) + 1)), y=[d for _, d in ordered], marker_color=colours,
                              customdata=[q for q, _ in ordered], hovertext=hover,
                              hovertemplate="query %{customdata}: %{hovertext}<br>Δ %{y:+.3f}<extra></extra>"))
    figure.update_layout(title=f"Per-query change in {metric} ({plotly_text(change)})",
                         xaxis_title="queries, sorted by change", yaxis_title=f"Δ {metric}", height=340,
                         margin=dict(l=10, r=10, t=50, b=10))
    return figure


def depth_figure(points: Sequence[DepthPoint]) -> go.Figure:
    """Quality (left axis) and reranking latency (right axis) against the candidate depth."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    depths = [p.depth for p in points]
    metric = points[0].metric if points else "ndcg@10"
    figure.add_trace(go.Scatter(x=depths, y=[p.first_stage for p in points], name=f"first stage {metric}",
                                mode="lines+markers", line=dict(color=FIRST_COLOUR)), secondary_y=False)
    figure.add_trace(go.Scatter(x=depths, y=[p.reranked for p in points], name=f"reranked {metric}",
                                mode="lines+markers", line=dict(color=RERANKED_COLOUR)), secondary_y=False)
    figure.add_trace(go.Scatter(x=depths, y=[p.rerank_ms for p in points], name="reranking ms (median)",
                                mode="lines+markers", line=dict(color=COST_COLOUR, dash="dot")), secondary_y=True)
    figure.update_xaxes(title_text="candidate depth k", type="log", tickvals=depths)
    figure.update_yaxes(title_text=metric, secondary_y=False)
    figure.update_yaxes(title_text="reranking time per query (ms)", secondary_y=True, rangemode="tozero")
    figure.update_layout(title="Quality and cost against depth", height=380, margin=dict(l=10, r=10, t=50, b=10),
                         legend=dict(orientation="h", y=-0.25))
    return figure


def cascade_figure(sweep: CascadeSweep) -> go.Figure:
    """Quality (left axis) and reranking time per query (right axis) against M, the candidates the reranker reads,
    with the full rerank and the small reranker alone as flat references, and the reranker on the first stage's own
    top M beside the cascade (its time is the cascade's less the small reranker's pass)."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    keeps = [p.keep for p in sweep.points]
    figure.add_trace(go.Scatter(x=keeps, y=[p.value for p in sweep.points], name=f"cascade {sweep.metric}",
                                mode="lines+markers", line=dict(color=RERANKED_COLOUR)), secondary_y=False)
    figure.add_trace(go.Scatter(x=keeps, y=[sweep.full] * len(keeps), name=f"full rerank {sweep.metric}",
                                mode="lines", line=dict(color=RERANKED_COLOUR, dash="dash")), secondary_y=False)
    figure.add_trace(go.Scatter(x=keeps, y=[sweep.small_alone] * len(keeps),
                                name=f"small reranker alone ({plotly_text(sweep.small)[:40]}) {sweep.metric}",
                                mode="lines", line=dict(color=FIRST_COLOUR, dash="dash")), secondary_y=False)
    if sweep.first_stage_points:  # the reference a small reranker must beat: no small pass at all
        figure.add_trace(go.Scatter(x=[p.keep for p in sweep.first_stage_points],
                                    y=[p.value for p in sweep.first_stage_points],
                                    name=f"reranker on the first stage's top M {sweep.metric}", mode="lines+markers",
                                    line=dict(color=FIRST_COLOUR)), secondary_y=False)
    figure.add_trace(go.Scatter(x=keeps, y=[p.rerank_ms for p in sweep.points], name="reranking ms per query",
                                mode="lines+markers", line=dict(color=COST_COLOUR, dash="dot")), secondary_y=True)
    figure.update_xaxes(title_text="M: candidates the reranker reads", tickvals=keeps)
    figure.update_yaxes(title_text=sweep.metric, secondary_y=False, range=[0, 1.02])
    figure.update_yaxes(title_text="reranking time per query (ms)", secondary_y=True, rangemode="tozero")
    figure.update_layout(title="Cascade: quality and cost against M", height=400,
                         margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.3))
    return figure


def threshold_distribution_figure(sweep: ThresholdSweep) -> go.Figure:
    """Overlaid histograms of the swept scores, relevant against not relevant, with the count of each."""
    figure = go.Figure()
    for relevant, name, colour in ((True, "relevant", WIN), (False, "not relevant", LOSS)):
        scores = [r.score for r in sweep.results if r.relevant is relevant]
        figure.add_trace(go.Histogram(x=scores, name=f"{name} ({len(scores)})", marker_color=colour, opacity=0.6,
                                      nbinsx=40))
    figure.update_layout(barmode="overlay", title=f"Reranker {sweep.score_kind} of the top {sweep.top_n} results",
                         xaxis_title=sweep.score_kind, yaxis_title="results", height=340,
                         margin=dict(l=10, r=10, t=50, b=10))
    return figure


def threshold_curves_figure(sweep: ThresholdSweep, chosen: float | None = None) -> go.Figure:
    """Precision, recall, F1 and the share of queries left empty against the threshold; ``chosen`` is marked."""
    x = [p.threshold for p in sweep.points]
    figure = go.Figure()
    # distinct colours, dashes and markers: the three curves can lie close together, and a printed page is grey
    for name, values, colour, dash, symbol in (
            ("precision", [p.precision for p in sweep.points], FIRST_COLOUR, "solid", "circle"),
            ("recall", [p.recall for p in sweep.points], RERANKED_COLOUR, "dash", "square"),
            ("F1", [p.f1 for p in sweep.points], WIN, "dashdot", "diamond")):
        figure.add_trace(go.Scatter(x=x, y=values, name=name, mode="lines+markers",
                                    line=dict(color=colour, dash=dash, width=2),
                                    marker=dict(symbol=symbol, size=6, maxdisplayed=12)))
    figure.add_trace(go.Scatter(x=x, y=[p.queries_left_empty for p in sweep.points], name="queries left empty",
                                mode="lines", line=dict(dash="dot", color=TIE)))
    if chosen is not None:
        figure.add_vline(x=chosen, line_dash="dash", line_color=COST_COLOUR,
                         annotation_text=f"threshold {chosen:.3g}", annotation_position="top left")
    figure.update_layout(title="Kept results against the threshold", xaxis_title=f"threshold ({sweep.score_kind})",
                         yaxis_title="share", yaxis_range=[0, 1.02], height=360, margin=dict(l=10, r=10, t=50, b=10))
    return figure


def calibration_figure(report: CalibrationReport) -> go.Figure:
    """The calibration curve on the held-out split: per bin of probability, the mean probability against the share
    of its results that are relevant, after calibration and (where the reranker has one) before; the diagonal is a
    perfect calibration."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name="perfect calibration", mode="lines",
                                line=dict(dash="dash", color=TIE), hoverinfo="skip"))

    def curve(figures: Reliability, name: str, colour: str) -> None:
        bins = figures.bins
        figure.add_trace(go.Scatter(
            x=[b.mean_probability for b in bins], y=[b.fraction_relevant for b in bins], name=name,
            mode="lines+markers", line=dict(color=colour), marker=dict(size=[6 + 14 * (b.count / figures.pairs) ** 0.5
                                                                              for b in bins]),
            customdata=[[b.count, b.lower, b.upper] for b in bins],
            hovertemplate=("probability %{customdata[1]:.1f}-%{customdata[2]:.1f}: %{customdata[0]} results, mean "
                           "%{x:.3f}, relevant %{y:.3f}<extra></extra>")))

    if report.before is not None:
        curve(report.before, f"reranker's own probability (Brier {report.before.brier:.3f}, ECE "
                             f"{report.before.ece:.3f})", FIRST_COLOUR)
    curve(report.after, f"calibrated, {report.calibration.method} (Brier {report.after.brier:.3f}, ECE "
                        f"{report.after.ece:.3f})", RERANKED_COLOUR)
    figure.update_layout(
        title=plotly_text(f"Calibration on '{report.held_out_split}' (held out; fitted on "
                          f"'{report.calibration.split}')"),
        xaxis_title="predicted probability of relevance (mean of the bin)", yaxis_title="share relevant",
        xaxis_range=[0, 1], yaxis_range=[0, 1.02], height=400, margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.25))
    return figure


def comparison_scatter(rows: Sequence[ComparisonRow], metric: str) -> go.Figure:
    """Quality against latency, one point per configuration, each named beside it where the name meets no other
    (``_name_positions``)."""
    figure = go.Figure(go.Scatter(
        x=[r.latency_ms for r in rows], y=[r.metrics.get(metric, 0.0) for r in rows], mode="markers+text",
        text=[plotly_text(r.name) for r in rows], textposition=_name_positions(rows, metric),
        marker=dict(size=12, color=RERANKED_COLOUR),
        hovertemplate=f"%{{text}}<br>%{{y:{PLOTLY_METRIC}}} at %{{x:,.0f}} ms<extra></extra>",
        cliponaxis=False))  # a name beside a point near 0 ms runs past the axis rather than being cut
    figure.update_layout(title=f"{metric} against latency (median per query)", xaxis_title="latency per query (ms)",
                         yaxis_title=metric, height=380, margin=dict(l=10, r=10, t=50, b=10))
    # room around the points for their names; a latency is never negative, so the axis starts at 0
    slowest = max((r.latency_ms for r in rows), default=1.0) or 1.0
    values = [r.metrics.get(metric, 0.0) for r in rows] or [0.0]
    spread = max(max(values) - min(values), 0.05)
    figure.update_xaxes(range=[0, 1.25 * slowest])
    figure.update_yaxes(range=[min(values) - 0.25 * spread, max(values) + 0.25 * spread])
    return figure


# the chart's plotting area as a page draws it, in pixels, and a name's letters: to tell where names would meet
PLOT_WIDTH_PX, PLOT_HEIGHT_PX, CHARACTER_PX, LINE_PX, GAP_PX = 950.0, 300.0, 7.0, 14.0, 8.0
LEFT_ROOM_PX = 40.0  # left of the plotting area, beside the y axis's numbers, a name still shows
NAME_PLACES = ("top center", "bottom center", "middle right", "middle left")


def _name_positions(rows: Sequence[ComparisonRow], metric: str) -> list[str]:
    """Where each point's name goes: the first of above, below, right and left of the point (in that order) where
    it stays within the chart and meets no name placed before it and no other point, judged in pixels of the axes'
    ranges as ``comparison_scatter`` sets them; where every place meets something, the one meeting the least."""
    slowest = max((r.latency_ms for r in rows), default=1.0) or 1.0
    values = [r.metrics.get(metric, 0.0) for r in rows] or [0.0]
    spread = max(max(values) - min(values), 0.05)
    low = min(values) - 0.25 * spread
    points = [(r.latency_ms / (1.25 * slowest) * PLOT_WIDTH_PX, (v - low) / (1.5 * spread) * PLOT_HEIGHT_PX)
              for r, v in zip(rows, values)]
    placed: list[tuple[float, float, float, float]] = []
    positions = []
    for i, (row, (x, y)) in enumerate(zip(rows, points)):
        width = len(row.name) * CHARACTER_PX
        boxes = {"top center": (x - width / 2, x + width / 2, y + GAP_PX, y + GAP_PX + LINE_PX),
                 "bottom center": (x - width / 2, x + width / 2, y - GAP_PX - LINE_PX, y - GAP_PX),
                 "middle right": (x + GAP_PX, x + GAP_PX + width, y - LINE_PX / 2, y + LINE_PX / 2),
                 "middle left": (x - GAP_PX - width, x - GAP_PX, y - LINE_PX / 2, y + LINE_PX / 2)}
        others = [point for j, point in enumerate(points) if j != i]
        inside = [place for place in NAME_PLACES  # a name past the chart's sides would be cut
                  if boxes[place][0] >= -LEFT_ROOM_PX and boxes[place][1] <= PLOT_WIDTH_PX] or [NAME_PLACES[0]]
        # the first place meeting nothing; else the one meeting the fewest names and points
        best = min(inside, key=lambda place: sum(_meet(boxes[place], box) for box in placed)
                   + sum(_holds(boxes[place], point) for point in others))
        placed.append(boxes[best])
        positions.append(best)
    return positions


def _meet(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two boxes (left, right, bottom, top) overlap."""
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _holds(box: tuple[float, float, float, float], point: tuple[float, float]) -> bool:
    """Whether a point (with its marker's radius) falls inside a box (left, right, bottom, top)."""
    radius = 6.0
    return box[0] - radius < point[0] < box[1] + radius and box[2] - radius < point[1] < box[3] + radius

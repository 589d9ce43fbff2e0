"""Plotly figures of the story (the Story page and the story report): the distribution of per-query changes and, for
each example, where each document moved between the two lists.

Labels are coloured on the data set's own grade scale (``explorer.grades``: Cranfield's 4 is its best grade, not
"unjudged"); text from the data passes through ``plotly_text``. Margins leave room for tick labels and axis titles
(no clipped ticks, no title over an axis).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explorer.evaluation.charts import LOSS, TIE, WIN
from explorer.evaluation.story import Example, Story, metric_label
from explorer.grades import GradeScale
from explorer.views.plotly_text import plotly_text
from explorer.views.search_charts import grade_colour, grade_name

READABLE_MARGIN = dict(l=70, r=30, t=60, b=60)


def change_distribution_figure(story: Story) -> go.Figure:
    """A histogram of the per-query changes: losses, ties and wins in their own colours, the mean marked."""
    values = np.array(list(story.changes.values()), dtype=float)
    span = float(np.abs(values).max()) if len(values) else 0.0
    size = max(span / 10, 1e-3)
    # 0 is a bin edge, so no bar mixes losses with wins (ties share the first bar right of 0 with the smallest wins,
    # in their own colour)
    bins = dict(start=-size * (np.floor(span / size) + 1), end=size * (np.floor(span / size) + 1), size=size)
    figure = go.Figure()
    for name, chosen, colour in (("worse", values < -1e-9, LOSS), ("same", np.abs(values) <= 1e-9, TIE),
                                 ("better", values > 1e-9, WIN)):
        figure.add_trace(go.Histogram(x=values[chosen], name=f"{name} ({int(chosen.sum())})", marker_color=colour,
                                      xbins=bins))
    figure.add_vline(x=story.difference, line_dash="dash", line_color="#1f2328",
                     annotation_text=f"mean {story.difference:+.3f}", annotation_position="top right")
    label = metric_label(story.metric)
    figure.update_layout(barmode="stack", title=f"Change in {label} per query (candidate − baseline)",
                         xaxis_title=f"change in {label}", yaxis_title="queries", height=340, margin=READABLE_MARGIN,
                         legend=dict(orientation="h", y=-0.3), bargap=0.05)
    figure.update_xaxes(automargin=True, zeroline=True)
    figure.update_yaxes(automargin=True)
    return figure


def example_moves_figure(example: Example, scale: GradeScale, baseline: str = "baseline",
                         candidate: str = "candidate") -> go.Figure:
    """A slope chart of one example: each document of either top list, from its rank in the baseline (left) to its
    rank in the candidate (right), coloured by its label; a document outside a list's top is drawn at the bottom."""
    shown = {d.doc_id: d for d in (*example.baseline_top, *example.candidate_top)}
    depth = max(len(example.baseline_top), len(example.candidate_top))
    left = {d.doc_id: rank for rank, d in enumerate(example.baseline_top, start=1)}
    right = {d.doc_id: rank for rank, d in enumerate(example.candidate_top, start=1)}
    outside = depth + 1.5
    figure = go.Figure()
    legend: set[str] = set()
    for doc_id, document in shown.items():
        before = left.get(doc_id) or document.rank_in_other or outside
        after = right.get(doc_id) or document.rank_in_other or outside
        before, after = min(before, outside), min(after, outside)
        name = grade_name(document.grade, scale)
        title = plotly_text(" ".join(document.title.split())[:60])
        figure.add_trace(go.Scatter(
            x=[0, 1], y=[before, after], mode="lines+markers", name=name, legendgroup=name,
            showlegend=name not in legend, line=dict(color=grade_colour(document.grade, scale), width=3),
            marker=dict(size=10, symbol="circle" if document.grade is not None else "circle-open"),
            hovertemplate=f"{plotly_text(doc_id)}: {title}<br>{name}<extra></extra>"))
        legend.add(name)
    ticks = list(range(1, depth + 1)) + [outside]
    figure.update_yaxes(autorange="reversed", tickvals=ticks, ticktext=[str(t) for t in range(1, depth + 1)]
                        + ["below"], title_text="rank", automargin=True)
    figure.update_xaxes(tickvals=[0, 1], ticktext=[plotly_text(baseline[:40]), plotly_text(candidate[:40])],
                        range=[-0.15, 1.15], automargin=True)
    figure.update_layout(height=300, margin=dict(l=60, r=20, t=20, b=40), legend=dict(orientation="h", y=-0.25))
    return figure

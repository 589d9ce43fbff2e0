"""The AI judge's chart: its grades against the people's on the same pairs."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.judging.ai_agreement import AIAgreement


def confusion_figure(agreement: AIAgreement) -> go.Figure:
    """The confusion matrix as a heatmap: the people's grade up, the AI judge's across, the count in each cell."""
    grades = list(agreement.grades)
    counts = agreement.confusion.tolist()
    figure = go.Figure(go.Heatmap(z=counts, x=grades, y=grades, text=counts, texttemplate="%{text}",
                                  colorscale="Blues", showscale=False,
                                  hovertemplate="people %{y}, AI judge %{x}: %{z} pair(s)<extra></extra>"))
    ticks = dict(tickmode="array", tickvals=grades, ticktext=[str(grade) for grade in grades])
    figure.update_layout(title="Grades given to the same pairs", height=320, margin=dict(l=10, r=10, t=50, b=10),
                         xaxis=dict(title="AI judge's grade", **ticks), yaxis=dict(title="people's grade", **ticks))
    return figure

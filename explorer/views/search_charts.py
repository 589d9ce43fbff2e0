"""Plotly figures for the search page: rank shifts, score distributions and stage latency.

Plotly reads a subset of HTML in text and hover labels, so every piece of document text passes through
``plotly_text`` before it reaches a figure.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from explorer.grades import GradeScale
from explorer.pipeline import PipelineResult, StageTimings
from explorer.records import Dataset
from explorer.views.plotly_text import short_label

# the relevant grades run from the lowest relevant (amber) to the best (dark green)
RELEVANT_RAMP = [[0.0, "#d4a72c"], [0.5, "#4ac26b"], [1.0, "#1a7f37"]]
BEST_COLOUR, NOT_RELEVANT_COLOUR, UNJUDGED_COLOUR = "#1a7f37", "#cf222e", "#8c959f"


def grade_colour(grade: int | None, scale: GradeScale) -> str:
    """The colour of a label on ``scale``: grey when unjudged, red when not relevant, amber to dark green up the
    relevant grades (a grade above the scale's best is drawn as the best)."""
    if grade is None:
        return UNJUDGED_COLOUR
    if not scale.is_relevant(grade):
        return NOT_RELEVANT_COLOUR
    steps = scale.highest - scale.relevant_from
    if steps <= 0 or grade >= scale.highest:
        return BEST_COLOUR
    return sample_colorscale(RELEVANT_RAMP, [(grade - scale.relevant_from) / steps])[0]


def grade_name(grade: int | None, scale: GradeScale) -> str:
    """The legend's name of a label on ``scale``, e.g. "label 4 (best)", "label 0 (not relevant)", "unjudged"."""
    if grade is None:
        return "unjudged"
    if not scale.is_relevant(grade):
        return f"label {grade} (not relevant)"
    return f"label {grade} (best)" if grade >= scale.highest else f"label {grade}"


def rank_shift_figure(result: PipelineResult, dataset: Dataset, labels: dict[str, int] | None,
                      top_n: int = 10) -> go.Figure:
    """Slope chart: one line per document in either top n, from its first-stage rank to its reranked rank, coloured
    by its label on the data set's grade scale (``dataset.grade_scale``), best grades first in the legend."""
    figure = go.Figure()
    if result.reranked is None:
        return figure
    scale = dataset.grade_scale
    shown = [hit for hit in result.reranked if hit.rank <= top_n or hit.first_stage_rank <= top_n]
    legend_done: set[int | None] = set()
    for hit in sorted(shown, key=lambda h: h.rank):
        label = labels.get(hit.doc_id) if labels is not None else None
        title = short_label(dataset.document(hit.doc_id).title or hit.doc_id)
        figure.add_trace(go.Scatter(
            x=["first stage", "reranked"], y=[hit.first_stage_rank, hit.rank], mode="lines+markers",
            line={"color": grade_colour(label, scale), "width": 2}, marker={"size": 8},
            name=grade_name(label, scale), legendgroup=str(label), showlegend=label not in legend_done,
            # best first; unjudged last
            legendrank=1000 if label is None else 1 + max(0, scale.highest - label),
            hovertemplate=f"{title}<br>%{{x}} rank %{{y}}<extra></extra>",
        ))
        legend_done.add(label)
    max_rank = max((max(h.rank, h.first_stage_rank) for h in shown), default=top_n)
    figure.update_yaxes(autorange=False, range=[max_rank + 0.5, 0.5], title="rank")
    figure.update_layout(title=f"Rank shifts (documents in either top {top_n})", height=420,
                         margin={"l": 40, "r": 10, "t": 50, "b": 30}, legend={"orientation": "h", "y": -0.1})
    return figure


def score_distribution_figure(result: PipelineResult, labels: dict[str, int] | None,
                              min_relevant_grade: int = 1) -> go.Figure:
    """Histograms of all k candidates' scores for both stages, split relevant / not relevant when labelled."""
    panels = ["first stage"]
    read = [h for h in result.reranked if h.scored_by == "main"] if result.reranked is not None else []
    if result.reranked is not None:
        # with a cascade, the reranker's panel holds the candidates it read (the others have no score of its own)
        panels.append("reranker" if len(read) == len(result.reranked) else
                      f"reranker (the {len(read)} it read after the small reranker)")
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=panels)

    def groups(pairs: list[tuple[str, float]]) -> list[tuple[str, list[float], str]]:
        if not labels:
            return [("all candidates", [s for _, s in pairs], "#0969da")]
        relevant = [s for d, s in pairs if labels.get(d, 0) >= min_relevant_grade]
        other = [s for d, s in pairs if labels.get(d, 0) < min_relevant_grade]
        return [("relevant", relevant, BEST_COLOUR), ("not relevant / unjudged", other, UNJUDGED_COLOUR)]

    stages = [[(h.doc_id, h.score) for h in result.first_stage]]
    if result.reranked is not None:
        stages.append([(h.doc_id, h.score) for h in read])
    for column, pairs in enumerate(stages, start=1):
        for name, values, colour in groups(pairs):
            figure.add_trace(go.Histogram(x=values, name=name, marker_color=colour, opacity=0.7, nbinsx=30,
                                          legendgroup=name, showlegend=column == 1), row=1, col=column)
    figure.update_layout(barmode="overlay", title=f"Score distributions of the {len(result.first_stage)} candidates",
                         height=360, margin={"l": 40, "r": 10, "t": 70, "b": 30})
    figure.update_yaxes(title_text="candidates", row=1, col=1)
    figure.update_xaxes(title_text="cosine", row=1, col=1)
    if len(panels) > 1:
        figure.update_xaxes(title_text="raw score", row=1, col=2)
    return figure


# the reranking stage of a remote reranker: its wall time includes the requests' trips over the network
REMOTE_RERANKING = "reranking (remote, incl. network)"


def latency_figure(timings: StageTimings, cached: bool = False, remote: bool = False) -> go.Figure:
    """Horizontal bars of each stage's wall time in milliseconds, in pipeline order, with the total in the title.
    ``cached``: the answer came from the cache, so the times are those of the run that first computed it.
    ``remote``: the reranker is a remote API, so its bar is labelled as including the network."""
    stages = timings.as_dict()
    if remote:
        stages = {(REMOTE_RERANKING if stage == "reranking" else stage): ms for stage, ms in stages.items()}
    figure = go.Figure(go.Bar(
        x=list(stages.values()), y=list(stages.keys()), orientation="h", marker_color="#0969da",
        text=[f"{ms:,.0f} ms" for ms in stages.values()], textposition="auto",
    ))
    title = f"Stage latency (total {timings.total_ms:,.0f} ms)"
    if cached:
        title += " · cached answer: times of the run that first computed it"
    figure.update_layout(title=title, height=260,
                         margin={"l": 10, "r": 10, "t": 50, "b": 30}, xaxis_title="milliseconds")
    figure.update_yaxes(autorange="reversed")
    return figure

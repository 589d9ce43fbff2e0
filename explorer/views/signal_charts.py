"""The signals on the Search page: each result's final score as a stacked bar of its parts, and a table of the moves
each result made from relevance's rank to its final one."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from explorer.records import Dataset
from explorer.rerank.rank_shift import describe_move
from explorer.signals.config import RELEVANCE
from explorer.signals.ranking import SignalledRanking
from explorer.views.plotly_text import plotly_text, short_label

# relevance first in a calm blue, then one distinct colour per signal
PART_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d")


def contributions_figure(ranking: SignalledRanking, dataset: Dataset, top_n: int = 10) -> go.Figure:
    """Horizontal stacked bars, one per result of the top ``top_n`` in final order: relevance's share and each
    signal's, adding up to the final score (0-1)."""
    hits = ranking.hits[:top_n]
    rows = [f"{hit.rank}. {short_label(dataset.title_of(hit.doc_id), 48)}" for hit in hits]
    figure = go.Figure()
    for position, label in enumerate(ranking.labels):
        values = [hit.contributions.get(label, 0.0) for hit in hits]
        raw = [hit.relevance if label == RELEVANCE else hit.values.get(label) for hit in hits]
        said = ["no value" if value is None else f"{value:.2f}" for value in raw]
        figure.add_trace(go.Bar(
            y=rows, x=values, orientation="h", name=plotly_text(label),
            marker_color=PART_COLOURS[position % len(PART_COLOURS)], customdata=said,
            hovertemplate="%{y}<br>" + plotly_text(label) + ": value %{customdata}, adds %{x:.3f}<extra></extra>"))
    figure.update_layout(
        barmode="stack", title=f"Final score of the top {len(hits)}: what each signal adds",
        xaxis_title="final score (parts add up; 0-1)", yaxis={"autorange": "reversed", "automargin": True},
        legend={"orientation": "h", "y": -0.2, "traceorder": "normal"}, height=max(320, 34 * len(hits) + 160),
        margin={"l": 10, "r": 10, "t": 50, "b": 40})
    return figure


def moves_table(ranking: SignalledRanking, dataset: Dataset, top_n: int = 10) -> pd.DataFrame:
    """One row per result of the top ``top_n``: final rank, relevance's rank, the move from it ("up 3", "new in top
    10"), the final score and each part; the diversity step's move where there is one. Titles are plain text (shown by st.dataframe, never as HTML)."""
    rows = []
    for hit in ranking.hits[:top_n]:
        row = {"rank": hit.rank, "relevance rank": hit.relevance_rank,
               "move": describe_move(hit.relevance_rank, hit.rank, top_n),
               "title": dataset.title_of(hit.doc_id), "final score": round(hit.total, 4)}
        row.update({label: round(hit.contributions.get(label, 0.0), 4) for label in ranking.labels})
        if ranking.config.diversity is not None:
            row["diversity's move"] = describe_move(hit.score_rank, hit.rank, len(ranking.hits))
        row["doc_id"] = hit.doc_id
        rows.append(row)
    return pd.DataFrame(rows)

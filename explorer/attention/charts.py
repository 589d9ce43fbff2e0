"""Plotly figure of a query-to-document attention block: query tokens down, document tokens across.

Tokens come from document text, and Plotly reads a subset of HTML in tick and hover labels, so every token
passes through ``plotly_text``. Columns are placed by position, not by label, so repeated tokens stay apart.
"""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.attention.rollout import QueryDocumentAttention
from explorer.views.plotly_text import plotly_text


def attention_heatmap_figure(block: QueryDocumentAttention) -> go.Figure:
    """Heatmap of ``block.weights``: one row per query token, one column per document token shown."""
    query_labels = [plotly_text(token) for token in block.query_tokens]
    document_labels = [plotly_text(token) for token in block.document_tokens]
    hover = [[f"{q} → {d}" for d in document_labels] for q in query_labels]
    start, end = block.document_window
    figure = go.Figure(go.Heatmap(
        z=block.weights, x=list(range(len(document_labels))), y=list(range(len(query_labels))),
        text=hover, hovertemplate="%{text}<br>attention %{z:.4f}<extra></extra>",
        colorscale="Blues", colorbar={"title": {"text": "attention"}, "thickness": 12},
    ))
    shown = ("" if (start, end) == (0, block.document_tokens_read)
             else f" · document tokens {start + 1}-{end} of {block.document_tokens_read}")
    figure.update_layout(
        title=f"Query → document attention ({block.description}){shown}",
        height=170 + 24 * len(query_labels), margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    figure.update_xaxes(tickvals=list(range(len(document_labels))), ticktext=document_labels, tickangle=-60,
                        tickfont={"size": 10}, side="bottom", showgrid=False)
    figure.update_yaxes(tickvals=list(range(len(query_labels))), ticktext=query_labels, autorange="reversed",
                        showgrid=False)
    return figure

"""Arithmetic over a pair's attention tensor: attention rollout, one layer's (or head's) weights, and the
query-to-document block.

The rollout follows Abnar and Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020: each layer's
head-averaged attention plus the identity for the residual path, rows renormalised, multiplied from the first
layer up.

Special tokens ([CLS], [SEP]) are left out of the query-to-document block: they take much of the attention
in every layer as a no-op target, which would drown out the words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from explorer.attention.model_pass import PairAttention
from explorer.errors import ConfigError

# A layer is picked by its index, or by ROLLOUT for the rollout over all layers.
Layer = int | Literal["rollout"]
ROLLOUT: Literal["rollout"] = "rollout"


@dataclass(frozen=True, eq=False)
class QueryDocumentAttention:
    """Attention from each query token (rows) to each document token (columns)."""

    query_tokens: tuple[str, ...]
    document_tokens: tuple[str, ...]
    document_positions: tuple[int, ...]  # positions of the columns in the record's tokens
    weights: np.ndarray  # (query tokens, document tokens)
    layer: Layer
    head: int | None  # None: the mean of the heads
    document_window: tuple[int, int]  # the columns shown, as [start, end) in document-token order
    document_tokens_read: int

    @property
    def description(self) -> str:
        """Which layer and head the weights come from, in words (for titles)."""
        heads = "heads averaged" if self.head is None else f"head {self.head}"
        where = "attention rollout over all layers" if self.layer == ROLLOUT else f"layer {self.layer}"
        return f"{where}, {heads}"


def attention_rollout(attentions: np.ndarray, rows: Sequence[int] | None = None) -> np.ndarray:
    """Attention rollout: how much each output position draws from each input token through all layers.

    Returns (tokens, tokens), or only the given ``rows`` (output positions), which is much cheaper on long
    pairs: the product is taken from the top layer down, starting from those rows.
    """
    if attentions.ndim != 4 or attentions.shape[-1] != attentions.shape[-2]:
        raise ConfigError(f"Attention rollout needs weights shaped (layers, heads, tokens, tokens), got {attentions.shape}.")
    size = attentions.shape[-1]
    identity = np.eye(size, dtype=np.float64)
    flow = identity if rows is None else identity[list(rows)]
    for layer in attentions[::-1]:
        mixed = 0.5 * layer.mean(axis=0, dtype=np.float64) + 0.5 * identity
        mixed /= mixed.sum(axis=-1, keepdims=True)
        flow = flow @ mixed
    return flow


def layer_attention(record: PairAttention, layer: Layer, head: int | None = None,
                    rows: Sequence[int] | None = None) -> np.ndarray:
    """(tokens, tokens) attention of one layer (one head or heads averaged), or the rollout over all layers.

    With ``rows``, only those rows (attending positions), in that order.
    """
    if layer == ROLLOUT:
        if head is not None:
            raise ConfigError("Attention rollout combines every head of every layer. To see one head, pick a layer.")
        if record.document_window is not None:
            raise ConfigError("Attention rollout needs every token read, and this record is a window of them. "
                              "Compute it on the record read_attention returned.")
        return attention_rollout(record.attentions, rows)
    if not isinstance(layer, int) or not 0 <= layer < record.layers:
        raise ConfigError(f"There is no layer {layer!r}: this model has layers 0 to {record.layers - 1}, "
                          f"or {ROLLOUT!r} for all of them.")
    picked = slice(None) if rows is None else list(rows)
    if head is None:
        return record.attentions[layer][:, picked].mean(axis=0)
    if not 0 <= head < record.heads:
        raise ConfigError(f"There is no head {head}: this model has heads 0 to {record.heads - 1}, "
                          "or None for their mean.")
    return record.attentions[layer, head][picked]


def query_to_document(record: PairAttention, layer: Layer = ROLLOUT, head: int | None = None,
                      max_document_tokens: int | None = None) -> QueryDocumentAttention:
    """The query-by-document block; with ``max_document_tokens``, only a window around the most-attended part.

    The weights are computed on every token read, so a window changes what is shown, not the values.
    """
    block = layer_attention(record, layer, head, rows=record.query_positions)[:, list(record.document_positions)]
    start, end = 0, len(record.document_positions)
    if max_document_tokens is not None and end > max_document_tokens:
        start, end = most_attended_window(block.mean(axis=0), max_document_tokens)
    columns = record.document_positions[start:end]
    return QueryDocumentAttention(
        query_tokens=tuple(record.tokens[i] for i in record.query_positions),
        document_tokens=tuple(record.tokens[i] for i in columns), document_positions=columns,
        weights=block[:, start:end], layer=layer, head=head, document_window=(start, end),
        document_tokens_read=len(record.document_positions),
    )


def most_attended_window(token_weights: Sequence[float] | np.ndarray, size: int) -> tuple[int, int]:
    """[start, end) of the ``size`` consecutive tokens with the largest total weight (the earliest on ties)."""
    if size < 1:
        raise ConfigError(f"A window needs at least one token, not {size}.")
    weights = np.asarray(token_weights, dtype=np.float64)
    if len(weights) <= size:
        return 0, len(weights)
    sums = np.convolve(weights, np.ones(size), mode="valid")
    start = int(np.argmax(sums))
    return start, start + size

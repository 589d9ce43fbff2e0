"""From attention on wordpieces to whole words, and to a window of the pair small enough to draw.

- ``top_document_words``: the document words that draw the most attention from the query. A word's weight
  is the sum of its wordpieces' weights, and a wordpiece's weight is its attention from the query tokens,
  averaged over them.
- ``window``: the record cut to the query and a window of document tokens around the part the query
  attends to most, so that views which draw every token pair stay readable and fast.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from explorer.attention.model_pass import PairAttention
from explorer.attention.rollout import ROLLOUT, Layer, QueryDocumentAttention, most_attended_window, query_to_document
from explorer.errors import ConfigError


@dataclass(frozen=True)
class WordWeight:
    """One whole document word and the attention it draws from the query."""

    word: str
    start: int  # character span of the word in the document
    end: int
    weight: float
    positions: tuple[int, ...]  # its wordpieces in the record's tokens


def document_token_weights(block: QueryDocumentAttention) -> np.ndarray:
    """Each document token's attention from the query: its column averaged over the query tokens."""
    return block.weights.mean(axis=0)


def merge_wordpieces(document: str, positions: Sequence[int], word_ids: Sequence[int | None],
                     offsets: Sequence[tuple[int, int]], weights: Sequence[float]) -> tuple[WordWeight, ...]:
    """Whole words from wordpieces: consecutive pieces with the same word id are one word, weights summed.

    ``positions`` are the pieces' places in the token sequence; ``word_ids`` and ``offsets`` are indexed by
    those places, ``weights`` follows ``positions``. Words come back in document order.
    """
    if len(positions) != len(weights):
        raise ConfigError(f"{len(positions)} wordpieces but {len(weights)} weights: give one weight per piece.")
    words: list[WordWeight] = []
    for word_id, group in itertools.groupby(zip(positions, weights), key=lambda pair: word_ids[pair[0]]):
        pieces = list(group)
        start = offsets[pieces[0][0]][0]
        end = offsets[pieces[-1][0]][1]
        words.append(WordWeight(document[start:end], start, end, float(sum(w for _, w in pieces)),
                                tuple(p for p, _ in pieces)))
    return tuple(words)


def document_words(record: PairAttention, layer: Layer = ROLLOUT, head: int | None = None) -> tuple[WordWeight, ...]:
    """Every document word read, in document order, with its attention from the query."""
    weights = document_token_weights(query_to_document(record, layer, head))
    return merge_wordpieces(record.document, record.document_positions, record.word_ids, record.offsets, weights)


def top_document_words(record: PairAttention, count: int = 10, layer: Layer = ROLLOUT,
                       head: int | None = None) -> tuple[WordWeight, ...]:
    """The ``count`` document words with the most attention from the query, most first.

    Punctuation-only words are left out: like special tokens, they soak up attention as a no-op target.
    """
    if count < 1:
        raise ConfigError(f"Ask for at least one word, not {count}.")
    words = [w for w in document_words(record, layer, head) if any(ch.isalnum() for ch in w.word)]
    return tuple(sorted(words, key=lambda w: (-w.weight, w.start))[:count])


def window(record: PairAttention, max_document_tokens: int, max_query_tokens: int = 32) -> PairAttention:
    """The record cut to the query and a window of document tokens around the part the query attends to most.

    The most-attended part is found with the attention rollout. Special tokens stay. Views that draw every
    pair of tokens (bertviz) use this, so that a 512-token pair neither hangs the page nor turns into a blur.
    """
    if max_document_tokens < 1 or max_query_tokens < 1:
        raise ConfigError("A window needs at least one query token and one document token.")
    if record.document_window is not None:
        raise ConfigError("This record is already a window. Take the window of the record read_attention returned.")
    notes: list[str] = []
    kept_query = record.query_positions[:max_query_tokens]
    if len(kept_query) < len(record.query_positions):
        notes.append(f"Drawn: the first {len(kept_query)} of the query's {len(record.query_positions)} tokens.")
    start, end = 0, len(record.document_positions)
    if end > max_document_tokens:
        weights = document_token_weights(query_to_document(record, ROLLOUT))
        start, end = most_attended_window(weights, max_document_tokens)
        notes.append(f"Drawn: document tokens {start + 1}-{end} of the {len(record.document_positions)} read, "
                     "around the part the query attends to most. Lines to the tokens left out are not drawn.")
    if not notes:
        return record
    dropped = set(record.query_positions[len(kept_query):]) | set(record.document_positions[:start]) \
        | set(record.document_positions[end:])
    keep = [i for i in range(len(record.tokens)) if i not in dropped]
    new_index = {old: new for new, old in enumerate(keep)}
    attentions = record.attentions[:, :, keep][:, :, :, keep]
    attentions.setflags(write=False)
    document_positions = tuple(new_index[i] for i in record.document_positions[start:end])
    return replace(
        record, tokens=tuple(record.tokens[i] for i in keep), sentence_b_start=document_positions[0],
        query_positions=tuple(new_index[i] for i in kept_query), document_positions=document_positions,
        word_ids=tuple(record.word_ids[i] for i in keep), offsets=tuple(record.offsets[i] for i in keep),
        attentions=attentions, document_window=(start, end), notes=record.notes + tuple(notes),
    )

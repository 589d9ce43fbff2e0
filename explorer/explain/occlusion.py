"""Occlusion: how much the reranker's score drops when a piece of the document (or a word of the query) is taken out.

It needs nothing but scores, so it explains any reranker, remote ones too; it costs one scored pair per piece, so
callers cap the pieces (``MAX_CALLS``) and say what it cost. Zeiler and Fergus (2014) for images; for rankers, e.g.
ir_explain's pointwise explainers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.explain.spans import Span, without, word_spans

# (query, texts) -> the reranker's raw score of each text for the query, in order
Scorer = Callable[[str, Sequence[str]], np.ndarray]
MAX_CALLS = 400  # pieces scored for one explanation, at most


@dataclass(frozen=True)
class SpanEffect:
    """One piece taken out, and how much the score dropped without it (negative: it rose)."""

    span: Span
    drop: float


@dataclass(frozen=True)
class Occlusion:
    """The score of the whole text, and each piece's effect, in the text's order."""

    score: float
    effects: tuple[SpanEffect, ...]
    calls: int  # pairs scored (the whole text included)

    def ranked(self) -> list[SpanEffect]:
        """The effects, the largest drop first (ties in text order)."""
        return sorted(self.effects, key=lambda e: (-e.drop, e.span.start))


def occlude(scorer: Scorer, query: str, text: str, spans: Sequence[Span], max_calls: int = MAX_CALLS) -> Occlusion:
    """The score of ``text`` and of ``text`` without each of ``spans``, in one call to ``scorer``."""
    if not spans:
        raise ConfigError("There is nothing to take out of this text: it has no words.")
    if len(spans) + 1 > max_calls:
        raise ConfigError(f"Occluding {len(spans)} pieces costs {len(spans) + 1} scored pairs, more than the "
                          f"{max_calls} allowed; take larger pieces (sentences, or longer runs of words).")
    scores = np.asarray(scorer(query, [text, *(without(text, [span]) for span in spans)]), dtype=np.float64)
    base = float(scores[0])
    return Occlusion(base, tuple(SpanEffect(span, base - float(s)) for span, s in zip(spans, scores[1:])),
                     len(spans) + 1)


def query_term_effects(scorer: Scorer, query: str, text: str, max_calls: int = MAX_CALLS) -> Occlusion:
    """The score with each word of the query taken out (the spans are the query's)."""
    words = word_spans(query)
    if len(words) < 2:
        raise ConfigError("The query has one word: taking it out leaves nothing to score. Use a longer query.")
    if len(words) + 1 > max_calls:
        raise ConfigError(f"The query has {len(words)} words, more than the {max_calls - 1} this view scores.")
    scores = _query_scores(scorer, query, text, words)
    base = float(scores[0])
    return Occlusion(base, tuple(SpanEffect(span, base - float(s)) for span, s in zip(words, scores[1:])),
                     len(words) + 1)


def _query_scores(scorer: Scorer, query: str, text: str, words: Sequence[Span]) -> np.ndarray:
    """The text's score for the query, then for the query without each word (one call per query: the scorer takes
    one query at a time)."""
    scores = [float(scorer(query, [text])[0])]
    scores += [float(scorer(without(query, [word]), [text])[0]) for word in words]
    return np.asarray(scores)

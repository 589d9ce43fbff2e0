"""Why A above B: the pieces of two documents that account for the gap between their scores, and the smallest
deletion found from A that puts it below B (a counterfactual).

Both documents are occluded sentence by sentence with the same scorer. The counterfactual removes A's sentences in
order of their drop (the largest first), one more each time, and stops at the first set that scores A below B;
when sentences are too coarse it tries runs of words the same way. It is the smallest such deletion in that
greedy order, not a proven minimum, and the page says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer.errors import ConfigError
from explorer.explain.occlusion import MAX_CALLS, Occlusion, Scorer, occlude
from explorer.explain.spans import Span, runs_of, sentence_spans, without, word_spans


@dataclass(frozen=True)
class Counterfactual:
    """The pieces removed from A, and A's score without them (below B's), or why none was found."""

    removed: tuple[Span, ...]
    score: float | None  # A's score without ``removed`` (None: no deletion tried put A below B)
    unit: str  # "sentence" or "run of words"
    tried: int  # deletions scored


@dataclass(frozen=True)
class PairGap:
    """A and B for one query: their scores, each sentence's effect, and the counterfactual."""

    score_a: float
    score_b: float
    a: Occlusion
    b: Occlusion
    counterfactual: Counterfactual

    @property
    def gap(self) -> float:
        """A's score minus B's."""
        return self.score_a - self.score_b


def pair_gap(scorer: Scorer, query: str, text_a: str, text_b: str, max_calls: int = MAX_CALLS) -> PairGap:
    """Occlusion of both documents by sentence, and the counterfactual (see the module's docstring)."""
    a = occlude(scorer, query, text_a, _sentences_or_runs(text_a), max_calls)
    b = occlude(scorer, query, text_b, _sentences_or_runs(text_b), max_calls)
    if a.score <= b.score:
        raise ConfigError(f"A scores {a.score:.4f}, not above B ({b.score:.4f}): swap them to ask why B is above A.")
    found = _greedy_deletion(scorer, query, text_a, a, b.score, "sentence")
    if found.score is None:
        words = word_spans(text_a)
        runs = runs_of(words, max(1, math.ceil(len(words) / 40)), text_a)
        finer = occlude(scorer, query, text_a, runs, max_calls)
        found = _greedy_deletion(scorer, query, text_a, finer, b.score, "run of words", tried=found.tried)
    return PairGap(a.score, b.score, a, b, found)


def _sentences_or_runs(text: str) -> list[Span]:
    """The text's sentences; a text of one sentence is split into runs of words instead, so there is a choice."""
    sentences = sentence_spans(text)
    if len(sentences) >= 2:
        return sentences
    words = word_spans(text)
    if not words:
        raise ConfigError("The document has no text to explain.")
    return runs_of(words, max(1, math.ceil(len(words) / 8)), text)


def _greedy_deletion(scorer: Scorer, query: str, text: str, occlusion: Occlusion, below: float, unit: str,
                     tried: int = 0) -> Counterfactual:
    """Removes the largest drops first, one more each time, all scored in one call; the first set under ``below``."""
    ranked = [e.span for e in occlusion.ranked() if e.drop > 0]
    if not ranked:
        return Counterfactual((), None, unit, tried)
    texts = [without(text, ranked[:count]) for count in range(1, len(ranked) + 1)]
    scores = np.asarray(scorer(query, texts), dtype=np.float64)
    for count, score in enumerate(scores, start=1):
        if score < below:
            return Counterfactual(tuple(ranked[:count]), float(score), unit, tried + count)
    return Counterfactual((), None, unit, tried + len(texts))

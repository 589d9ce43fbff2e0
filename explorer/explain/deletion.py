"""Deletion curves: how fast the score falls when a method's most important words are taken out first.

For each method's ranking of the document's words, the top 10%, 20%, ... 100% are removed and the pair scored
again. The curve is normalised per pair, ``(score(f) - score(all removed)) / (score(none removed) - score(all
removed))``, so it runs from 1 at 0% to 0 at 100% whatever the model's scale, and its area (trapezoids over the
fractions) is comparable across pairs and methods: the lower, the more the method's top words carry the score, so
the more faithful it is to this model (Samek et al. 2017, "Evaluating the visualization of what a deep neural network
has learned"; Petsiuk et al. 2018, RISE, for the deletion metric). A random order is the floor to beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.explain.occlusion import Scorer
from explorer.explain.spans import Span, without

FRACTIONS = tuple(round(0.1 * step, 1) for step in range(11))  # 0.0, 0.1, ..., 1.0
FLAT = 1e-6  # a pair whose score does not move when every word is removed has no curve


@dataclass(frozen=True)
class DeletionCurve:
    """One method's curve on one pair: the raw scores and the normalised curve at each fraction removed."""

    method: str
    fractions: tuple[float, ...]
    scores: tuple[float, ...]
    curve: tuple[float, ...]

    @property
    def auc(self) -> float:
        """Area under the normalised curve (trapezoids): lower is more faithful."""
        x, y = np.asarray(self.fractions), np.asarray(self.curve)
        return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def deletion_curves(scorer: Scorer, query: str, text: str, words: Sequence[Span],
                    rankings: Mapping[str, Sequence[int]], fractions: Sequence[float] = FRACTIONS,
                    ) -> dict[str, DeletionCurve] | None:
    """Each method's deletion curve, all scored in one call to ``scorer``; None when the pair's score does not move
    between the whole text and the text with every word removed (nothing to explain).

    ``rankings``: method -> indices into ``words``, most important first (every word once)."""
    if not words:
        raise ConfigError("The text has no words to remove.")
    if fractions[0] != 0.0 or fractions[-1] != 1.0 or list(fractions) != sorted(fractions):
        raise ConfigError("The fractions removed run upwards from 0 to 1.")
    for method, order in rankings.items():
        if sorted(order) != list(range(len(words))):
            raise ConfigError(f"The ranking of {method!r} must name each of the {len(words)} words once.")
    counts = [round(f * len(words)) for f in fractions]
    inner = counts[1:-1]
    texts = [text, without(text, words)]
    for order in rankings.values():
        texts += [without(text, [words[i] for i in order[:count]]) for count in inner]
    scores = np.asarray(scorer(query, texts), dtype=np.float64)
    whole, empty = float(scores[0]), float(scores[1])
    if abs(whole - empty) < FLAT:
        return None
    curves = {}
    for number, method in enumerate(rankings):
        middle = scores[2 + number * len(inner): 2 + (number + 1) * len(inner)]
        raw = (whole, *map(float, middle), empty)
        curves[method] = DeletionCurve(method, tuple(fractions), raw,
                                       tuple((value - empty) / (whole - empty) for value in raw))
    return curves


def ranking(weights: Sequence[float]) -> list[int]:
    """Word indices by weight, the largest first (ties in text order)."""
    return sorted(range(len(weights)), key=lambda i: (-weights[i], i))

"""How far an AI judge agrees with the people who judged the same pairs, before its grades are used.

Grades are ordinal, so a near miss counts less than a far one: Cohen's kappa with linear weights,
1 - sum(w * observed) / sum(w * expected) with w = |i - j| / (k - 1) over the confusion matrix of the k grades,
and a 95% interval from a bootstrap over the pairs (resampled with replacement). The verdict follows the usual
reading of kappa (Landis and Koch): below 0.4 the judge is not to be used in place of people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

LOW = 0.4  # below: recommend against using the judge's grades
GOOD = 0.6  # from here: substantial agreement
FEW_PAIRS = 30  # fewer pairs than this say little, whatever the kappa
BOOTSTRAP_SAMPLES = 1000


@dataclass(frozen=True)
class AIDisagreement:
    """A pair the AI judge graded otherwise than the people, with its reason."""

    query_id: str
    doc_id: str
    human: int
    ai: int
    reason: str


@dataclass(frozen=True)
class AIAgreement:
    """The AI judge against people on the pairs both graded."""

    rater: str
    grades: tuple[int, ...]
    pairs: int
    kappa: float | None  # linear-weighted; None without pairs
    low: float | None  # the bootstrap's 95% interval
    high: float | None
    confusion: np.ndarray  # rows: the people's grade, columns: the AI judge's, in the order of ``grades``
    exact: float  # share of pairs with the same grade
    disagreements: tuple[AIDisagreement, ...]  # the farthest first

    @property
    def verdict(self) -> str:
        """"use", "care" or "against": whether the page recommends using the judge's grades."""
        if self.kappa is None or self.pairs < FEW_PAIRS or self.kappa < LOW or (self.low is not None and
                                                                                self.low < LOW - 0.2):
            return "against"
        return "use" if self.kappa >= GOOD and (self.low is None or self.low >= LOW) else "care"

    @property
    def summary(self) -> str:
        """The agreement in a sentence, with the recommendation."""
        if not self.pairs:
            return (f"{self.rater} has graded none of the pairs people graded, so its agreement is unknown: run it "
                    "on a sample of judged queries first.")
        interval = (f" (95% bootstrap interval {self.low:.3f} to {self.high:.3f})"
                    if self.low is not None and self.high is not None else "")
        said = (f"Weighted kappa (linear) of {self.rater} against the people's labels: {self.kappa:.3f}{interval} over "
                f"{self.pairs:,} pair(s); the same grade on {self.exact:.0%} of them.")
        return f"{said} {recommendation(self)}"


def recommendation(result: AIAgreement) -> str:
    """What the page advises about using the judge's grades as labels."""
    if result.pairs < FEW_PAIRS:
        return (f"Too few pairs ({result.pairs}) to trust the figure: check it on at least {FEW_PAIRS} judged pairs "
                "before using its grades.")
    if result.verdict == "against":
        return ("Agreement is low: do not use its grades as labels. Refine the prompt (or the guidelines) and check "
                "again, or judge these queries yourselves.")
    if result.verdict == "care":
        return ("Moderate agreement: its grades can fill holes where no person judged, but read its disagreements "
                "first and say so where its grades are used.")
    return "Substantial agreement: its grades can stand in where no person judged."


def weighted_kappa(confusion: np.ndarray) -> float:
    """Cohen's kappa with linear weights from a k x k confusion matrix of counts (k >= 2). 1.0 when every pair has
    the same single grade (the formula divides by zero there, and the raters agree completely)."""
    counts = np.asarray(confusion, dtype=np.float64)
    total = counts.sum()
    size = counts.shape[0]
    if total == 0:
        return math.nan
    grades = np.arange(size)
    weights = np.abs(grades[:, None] - grades[None, :]) / max(1, size - 1)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / total
    disagreement_expected = float((weights * expected).sum())
    if disagreement_expected == 0:
        return 1.0
    return 1.0 - float((weights * counts).sum()) / disagreement_expected


def ai_agreement(rater: str, ai: Mapping[tuple[str, str], tuple[int, str]], human: Mapping[tuple[str, str], int],
                 grades: Sequence[int], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> AIAgreement:
    """The AI judge's grades ``ai`` ((query, doc) -> (grade, reason)) against the people's ``human`` on the pairs
    both graded, on the scale ``grades``."""
    scale = tuple(sorted(grades))
    index = {grade: position for position, grade in enumerate(scale)}
    shared = sorted(pair for pair in ai if pair in human and human[pair] in index and ai[pair][0] in index)
    people = np.array([index[human[pair]] for pair in shared], dtype=np.int64)
    judge = np.array([index[ai[pair][0]] for pair in shared], dtype=np.int64)
    confusion = np.zeros((len(scale), len(scale)), dtype=np.int64)
    np.add.at(confusion, (people, judge), 1)
    kappa = weighted_kappa(confusion) if shared else None
    low = high = None
    if len(shared) >= 2:
        low, high = _bootstrap(people, judge, len(scale), samples, seed)
    disagreements = tuple(sorted(
        (AIDisagreement(q, d, human[(q, d)], ai[(q, d)][0], ai[(q, d)][1]) for q, d in shared
         if human[(q, d)] != ai[(q, d)][0]),
        key=lambda found: (-abs(found.human - found.ai), found.query_id, found.doc_id)))
    exact = float((people == judge).mean()) if shared else 0.0
    return AIAgreement(rater, scale, len(shared), kappa, low, high, confusion, exact, disagreements)


def _bootstrap(people: np.ndarray, judge: np.ndarray, size: int, samples: int,
               seed: int) -> tuple[float | None, float | None]:
    """The 2.5th and 97.5th percentiles of the kappa over ``samples`` resamples of the pairs."""
    generator = np.random.default_rng(seed)
    count = len(people)
    values = []
    for _ in range(samples):
        drawn = generator.integers(0, count, count)
        confusion = np.zeros((size, size), dtype=np.int64)
        np.add.at(confusion, (people[drawn], judge[drawn]), 1)
        value = weighted_kappa(confusion)
        if not math.isnan(value):
            values.append(value)
    if not values:
        return None, None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)

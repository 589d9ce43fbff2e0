"""How far raters agree, where they judged the same (query, document) pairs, and the pairs to settle.

Grades are ordinal (0-3, or 0-1), so a near miss counts less than a far one: Cohen's kappa with linear weights
for two raters (scikit-learn), Krippendorff's alpha at the ordinal level for more (the ``krippendorff``
package; with two raters both are given). Pairs only one rater judged tell nothing about agreement and are left
out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from explorer.judging.store import Judgement


@dataclass(frozen=True)
class Disagreement:
    """A pair that raters graded differently, with every rater's grade."""

    query_id: str
    doc_id: str
    grades: dict[str, int]  # rater -> grade

    @property
    def spread(self) -> int:
        """Highest grade minus lowest."""
        return max(self.grades.values()) - min(self.grades.values())


@dataclass(frozen=True)
class Agreement:
    """Agreement over the pairs two or more raters judged."""

    raters: tuple[str, ...]
    shared_pairs: int  # pairs judged by at least two raters
    kappa: float | None  # Cohen's kappa, linear weights: exactly two raters, else None
    alpha: float | None  # Krippendorff's alpha, ordinal: two raters or more, else None
    disagreements: tuple[Disagreement, ...]  # largest spread first

    @property
    def summary(self) -> str:
        """One line for a page or the command line."""
        if self.shared_pairs == 0:
            return ("No pair has been judged by two raters yet, so there is no agreement to measure. Ask a second "
                    "rater to judge some of the same queries.")
        parts = [f"{self.shared_pairs} pairs judged by two raters or more ({', '.join(self.raters)})"]
        if self.kappa is not None:
            parts.append(f"Cohen's kappa (linear weights) {_shown(self.kappa)}")
        if self.alpha is not None:
            parts.append(f"Krippendorff's alpha (ordinal) {_shown(self.alpha)}")
        parts.append(f"{len(self.disagreements)} disagreements to settle")
        return "; ".join(parts) + "."


def agreement(judgements: Sequence[Judgement], scale: Sequence[int] = (0, 1, 2, 3)) -> Agreement:
    """Agreement among the raters of ``judgements`` on the pairs at least two of them judged."""
    by_pair: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for judgement in judgements:
        by_pair[(judgement.query_id, judgement.doc_id)][judgement.rater] = judgement.grade
    shared = {pair: grades for pair, grades in by_pair.items() if len(grades) >= 2}
    raters = tuple(sorted({rater for grades in shared.values() for rater in grades}))
    disagreements = tuple(sorted(
        (Disagreement(query_id, doc_id, dict(sorted(grades.items())))
         for (query_id, doc_id), grades in shared.items() if len(set(grades.values())) > 1),
        key=lambda d: (-d.spread, d.query_id, d.doc_id)))
    kappa = _kappa(shared, raters, scale) if len(raters) == 2 else None
    alpha = _alpha(shared, raters, scale) if len(raters) >= 2 else None
    return Agreement(raters, len(shared), kappa, alpha, disagreements)


def _kappa(shared: dict[tuple[str, str], dict[str, int]], raters: tuple[str, ...], scale: Sequence[int]) -> float:
    from sklearn.metrics import cohen_kappa_score

    first = [grades[raters[0]] for grades in shared.values()]
    second = [grades[raters[1]] for grades in shared.values()]
    if len(set(first) | set(second)) == 1:
        return 1.0  # every grade the same: complete agreement (the formula divides by zero here)
    return float(cohen_kappa_score(first, second, labels=list(scale), weights="linear"))


def _alpha(shared: dict[tuple[str, str], dict[str, int]], raters: tuple[str, ...], scale: Sequence[int]) -> float:
    import krippendorff
    import numpy as np

    data = np.array([[grades.get(rater, np.nan) for grades in shared.values()] for rater in raters], dtype=float)
    if len({value for value in data.ravel() if not math.isnan(value)}) == 1:
        return 1.0  # a single value throughout: complete agreement (alpha is undefined there)
    return float(krippendorff.alpha(reliability_data=data, value_domain=list(scale), level_of_measurement="ordinal"))


def _shown(value: float) -> str:
    return "not defined" if math.isnan(value) else f"{value:.3f}"

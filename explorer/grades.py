"""A data set's grade scale: the lowest and highest grade its labels use, and the lowest that counts as relevant.

Label files grade on different scales: the sample data 0-3 (0 judged not relevant), Cranfield 1-4 (4 a complete
answer, and no grade for "not relevant": a document nobody judged is not relevant), TREC collections 0-2 or -2-4.
The scale is read once from the labels (``Dataset.grade_scale``) and drives everything that shows or asks for a
grade: the colours and legends of the charts, the keys of the Judge page and the "relevant from grade" defaults.
As in trec_eval, a grade of 0 or below never counts as relevant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from explorer.errors import ConfigError

# the scale of a data set without labels (and of the judging store's "graded" scale)
DEFAULT_LOWEST, DEFAULT_HIGHEST = 0, 3


@dataclass(frozen=True)
class GradeScale:
    """The grades of a data set's labels: ``lowest`` to ``highest``, relevant from ``relevant_from`` up.

    ``from_labels`` is False for the default 0-3 scale of a data set that has no labels yet."""

    lowest: int = DEFAULT_LOWEST
    highest: int = DEFAULT_HIGHEST
    relevant_from: int = 1
    from_labels: bool = False

    def __post_init__(self) -> None:
        if self.lowest > self.highest:
            raise ConfigError(f"A grade scale runs from its lowest grade up; got {self.lowest} to {self.highest}.")
        if self.relevant_from < 1:
            raise ConfigError(f"Grades of 0 and below count as not relevant (as in trec_eval), so relevance starts "
                              f"at grade 1 or above; got {self.relevant_from}.")

    @classmethod
    def of(cls, qrels_by_split: Iterable[Mapping[str, Mapping[str, int]]]) -> GradeScale:
        """The scale the labels of every split use; the default 0-3 when there are none. Relevant from the lowest
        grade above 0: grade 1 on a 0-3 scale, the lowest grade on a scale without a "not relevant" grade (every
        judged document of Cranfield's 1-4 counts, as trec_eval counts it)."""
        grades = {grade for qrels in qrels_by_split for labels in qrels.values() for grade in labels.values()}
        if not grades:
            return cls()
        lowest, highest = min(grades), max(grades)
        return cls(lowest, highest, max(1, lowest), from_labels=True)

    @property
    def grades(self) -> tuple[int, ...]:
        """Every grade of the scale, lowest first."""
        return tuple(range(self.lowest, self.highest + 1))

    @property
    def judging_grades(self) -> tuple[int, ...]:
        """The grades a rater may give: the scale's, with 0 ("not relevant") below it where the labels have no grade
        for that (a rater must be able to say a document does not answer)."""
        return tuple(range(min(0, self.lowest), self.highest + 1))

    def is_relevant(self, grade: int) -> bool:
        """Whether ``grade`` counts as relevant in binary metrics."""
        return grade >= self.relevant_from

    def describe(self) -> str:
        """In words, e.g. "grades 1-4 (4 the best), relevant from 1"."""
        if not self.from_labels:
            return (f"grades {self.lowest}-{self.highest} (no labels yet; {self.highest} the best), relevant from "
                    f"{self.relevant_from}")
        return f"grades {self.lowest}-{self.highest} ({self.highest} the best), relevant from {self.relevant_from}"

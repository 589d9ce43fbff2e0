"""The grades a rater may give for a data set: its own grade scale (from its labels), or binary when set so.

The judging store keeps, per data set, whether it is judged "graded" or "binary"; "graded" means the data set's
grade scale (``Dataset.grade_scale``): 0-3 for the sample data, 0-4 for Cranfield, whose labels grade 1-4 (a rater
also needs 0, "not relevant", which Cranfield's labels leave to the documents nobody judged).
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.grades import GradeScale
from explorer.judging.store import SCALES, JudgementStore, Scale
from explorer.records import Dataset


@dataclass(frozen=True)
class JudgingScale:
    """The grades offered on the Judge page (its keys), lowest first, each with a word, and what they stand on."""

    kind: Scale
    grades: tuple[int, ...]
    words: dict[int, str]
    data_scale: GradeScale

    @property
    def name(self) -> str:
        """For a caption, e.g. "0-4 (0 not relevant, 1 related, 2 relevant, 3 relevant, 4 the answer)"."""
        spelled = ", ".join(f"{grade} {self.words[grade]}" for grade in self.grades)
        return f"{self.grades[0]}-{self.grades[-1]} ({spelled})"


def grade_words(grades: tuple[int, ...], scale: GradeScale) -> dict[int, str]:
    """A word for each grade: "not relevant" under the scale's relevant grades, "the answer" for its best, "related"
    for its lowest relevant grade and "relevant" between (on 0-3: not relevant, related, relevant, the answer)."""
    words = {}
    for grade in grades:
        if not scale.is_relevant(grade):
            words[grade] = "not relevant"
        elif grade >= grades[-1]:
            words[grade] = "the answer"
        elif grade == scale.relevant_from:
            words[grade] = "related"
        else:
            words[grade] = "relevant"
    return words


def judging_scale(kind: Scale, data_scale: GradeScale) -> JudgingScale:
    """The grades of ``kind`` ("graded": ``data_scale``'s, with 0 below; "binary": 0-1) for a data set graded on
    ``data_scale``."""
    if kind == "binary":
        grades = SCALES["binary"]
        return JudgingScale(kind, grades, {0: "not relevant", 1: "relevant"}, data_scale)
    grades = data_scale.judging_grades
    return JudgingScale(kind, grades, grade_words(grades, data_scale), data_scale)


def scale_of(store: JudgementStore, key: str, dataset: Dataset) -> JudgingScale:
    """The judging scale of the data set stored under ``key``: binary or graded as the store says, on the grades of
    ``dataset``'s labels."""
    return judging_scale(store.scale(key), dataset.grade_scale)

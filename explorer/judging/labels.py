"""Several raters' grades made into one label per (query, document), and those labels merged with the data
set's own qrels, keeping where each label came from."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

from explorer.errors import ConfigError
from explorer.judging.store import RULES, Judgement, Rule, is_ai_rater

__all__ = ["RULES", "MergedLabels", "Rule", "combined", "merged", "one_grade"]

Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class MergedLabels:
    """The labels an evaluation reads, and where each came from ("qrels": the data set's; "judged": here)."""

    qrels: Qrels
    sources: dict[str, dict[str, str]]

    def count(self, source: str) -> int:
        """Labels from ``source``."""
        return sum(1 for per_query in self.sources.values() for found in per_query.values() if found == source)


def one_grade(grades: Sequence[int], rule: Rule) -> int:
    """The grade that stands for several raters' ``grades`` under ``rule`` (see RULES)."""
    if not grades:
        raise ConfigError("No grades to combine.")
    if rule == "mean":
        return int(sum(grades) / len(grades) + 0.5)
    if rule == "majority":
        counts = Counter(grades)
        top = max(counts.values())
        return min(grade for grade, count in counts.items() if count == top)
    if rule == "strictest":
        return min(grades)
    raise ConfigError(f"Unknown rule {rule!r} for combining grades; choose one of: {', '.join(RULES)}.")


def combined(judgements: Sequence[Judgement], rule: Rule = "mean") -> Qrels:
    """Query id -> document id -> one grade, from every rater's judgements. An AI judge's grades (counted as labels
    by the user's choice) fill only the pairs no person graded: where a person did, the people's grades alone count."""
    people: dict[tuple[str, str], list[int]] = defaultdict(list)
    machines: dict[tuple[str, str], list[int]] = defaultdict(list)
    for judgement in judgements:
        (machines if is_ai_rater(judgement.rater) else people)[(judgement.query_id, judgement.doc_id)].append(
            judgement.grade)
    labels: Qrels = defaultdict(dict)
    for (query_id, doc_id), given in [*machines.items(), *people.items()]:  # people's last: theirs stand
        labels[query_id][doc_id] = one_grade(given, rule)
    return dict(labels)


def merged(dataset_qrels: Mapping[str, Mapping[str, int]], judged: Mapping[str, Mapping[str, int]]) -> MergedLabels:
    """The data set's qrels with the judgements made here added; where both grade a pair, the judgement made here
    counts (it is the team's later word) and the source says so."""
    qrels: Qrels = {query_id: dict(labels) for query_id, labels in dataset_qrels.items()}
    sources = {query_id: {doc_id: "qrels" for doc_id in labels} for query_id, labels in qrels.items()}
    for query_id, labels in judged.items():
        for doc_id, grade in labels.items():
            qrels.setdefault(query_id, {})[doc_id] = grade
            sources.setdefault(query_id, {})[doc_id] = "judged"
    return MergedLabels(qrels, sources)

"""Judgements to and from TREC qrels (``query 0 document grade`` per line), with every refused line reported.

Ids holding white space are percent-encoded as in run files (``explorer.evaluation.run_files``) so a line
stays four fields; reading decodes them back.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

from explorer.evaluation.run_files import run_id
from explorer.judging.store import SCALES, Judgement, JudgementStore


@dataclass(frozen=True)
class QrelsImport:
    """What an import saved, and each line it refused with the reason."""

    imported: int
    problems: tuple[str, ...]  # "line 7: unknown document id 'd9'"

    @property
    def summary(self) -> str:
        """One line: how many were saved and how many lines refused."""
        refused = f"; {len(self.problems)} lines refused (listed below)" if self.problems else "; no line refused"
        return f"Imported {self.imported} judgements{refused}."


def qrels_text(labels: Mapping[str, Mapping[str, int]]) -> str:
    """TREC qrels, sorted by query then document."""
    lines = [f"{run_id(query_id)} 0 {run_id(doc_id)} {grade}"
             for query_id in sorted(labels) for doc_id, grade in sorted(labels[query_id].items())]
    return "\n".join(lines) + ("\n" if lines else "")


def import_qrels(text: str, store: JudgementStore, dataset: str, rater: str, known_queries: Collection[str],
                 known_documents: Collection[str], grades: Sequence[int] | None = None) -> QrelsImport:
    """Saves every valid line of ``text`` as ``rater``'s judgement; a line with an unknown query or document id, a
    bad grade (off ``grades``, the data set's judging scale, else the store's scale) or the wrong number of fields
    is refused and reported with its number. Nothing already stored is lost: a line replaces only ``rater``'s own
    grade of its pair."""
    scale = store.scale(dataset)
    allowed = tuple(grades) if grades and scale != "binary" else SCALES[scale]
    problems: list[str] = []
    accepted: list[Judgement] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or line.lstrip().startswith("#"):
            continue
        if len(fields) != 4:
            hint = " (BEIR's qrels TSV has three: load it with the data set instead)" if len(fields) == 3 else ""
            problems.append(f"line {number}: {len(fields)} fields; TREC qrels have four: query, 0, document, "
                            f"grade{hint}")
            continue
        query_id, _, doc_id, grade_text = (urllib.parse.unquote(field) for field in fields)
        problem = _problem(query_id, doc_id, grade_text, allowed, known_queries, known_documents)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        accepted.append(Judgement(query_id, doc_id, rater, int(grade_text)))
    store.put_many(dataset, accepted, allowed)
    return QrelsImport(len(accepted), tuple(problems))


def _problem(query_id: str, doc_id: str, grade_text: str, allowed: Sequence[int], known_queries: Collection[str],
             known_documents: Collection[str]) -> str:
    if query_id not in known_queries:
        return f"unknown query id {query_id!r} (not in this data set's queries nor among those judged here)"
    if doc_id not in known_documents:
        return f"unknown document id {doc_id!r} (not in this data set's corpus)"
    try:
        grade = int(grade_text)
    except ValueError:
        return f"the grade {grade_text!r} is not a whole number"
    if grade not in allowed:
        return f"the grade {grade} is outside this data set's scale, {min(allowed)}-{max(allowed)}"
    return ""

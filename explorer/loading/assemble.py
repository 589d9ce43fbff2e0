"""Turns loaded records into a Dataset, checking ids and labels, and writes the report the user sees."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterable

from explorer.loading.problems import COLUMN_OPTIONS, Problem, ProblemLog
from explorer.records import Dataset, Document, Query

# Terminal escape sequences (ESC [ ... letter) whole, then any other control character: C0 but tab, line feed and
# carriage return, DEL, and C1. They show as nothing or garble a terminal, and a model reads them as noise.
CONTROL_CHARACTERS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Problems quoted in the error when no document could be read.
QUOTED_PROBLEMS = 3


def without_control_characters(text: str) -> str:
    """``text`` with NUL, terminal escape sequences and other control characters (but tab and line breaks) removed."""
    return CONTROL_CHARACTERS.sub("", text) if CONTROL_CHARACTERS.search(text) else text


@dataclass(frozen=True)
class DocRecord:
    """A document as read, with the file and line it came from (line None where there is none)."""

    file: str
    line: int | None
    document: Document


@dataclass(frozen=True)
class QueryRecord:
    """A query as read, with the file and line it came from (line None where there is none)."""

    file: str
    line: int | None
    query: Query


@dataclass(frozen=True)
class LabelRecord:
    """One relevance label as read (query id, document id, grade), with the file and line it came from."""

    file: str
    line: int | None
    query_id: str
    doc_id: str
    grade: int


@dataclass(frozen=True)
class LoadReport:
    """What a load found, for the page: counts of documents, queries and labels, and the problems met."""

    source: str
    documents: int
    queries: int
    labelled_queries: int
    labels: int
    empty_documents: int
    problems: tuple[Problem, ...]
    problem_counts: dict[str, int] = field(default_factory=dict)

    @property
    def warnings(self) -> int:
        """How many warnings the load raised in all, listed or only counted."""
        return sum(self.problem_counts.values())


@dataclass(frozen=True)
class LoadResult:
    """A loaded data set with the report of its load."""

    dataset: Dataset
    report: LoadReport


class DatasetBuilder:
    """Adds documents, then queries, then labels; duplicates and dangling labels become warnings."""

    def __init__(self, name: str, source: str, log: ProblemLog) -> None:
        self.name = name
        self.source = source
        self.log = log
        self.documents: dict[str, Document] = {}
        self.queries: dict[str, Query] = {}
        self.qrels: dict[str, dict[str, dict[str, int]]] = {}
        self.empty_documents = 0
        self._label_count = 0

    def add_documents(self, records: Iterable[DocRecord]) -> None:
        """Keeps the documents; an empty or repeated id is skipped with a warning, an empty text kept with one.

        Control characters are removed from titles and texts, with one warning per file."""
        cleaned = _CleanedTexts("document(s)")
        for record in records:
            doc = cleaned.document(record)
            if not doc.doc_id.strip():
                self.log.warn("empty id", record.file, record.line, "the document has an empty id and was skipped.")
                continue
            if doc.doc_id in self.documents:
                self.log.warn("duplicate id", record.file, record.line,
                              f"document id {doc.doc_id!r} appeared before; this copy was skipped. Ids must be unique.")
                continue
            if not doc.text.strip() and not doc.title.strip():
                self.empty_documents += 1
                self.log.warn("empty text", record.file, record.line,
                              f"document {doc.doc_id!r} has no text; it is kept but can only match by chance.")
            self.documents[doc.doc_id] = doc
        cleaned.report(self.log)

    def add_queries(self, records: Iterable[QueryRecord]) -> None:
        """Keeps the queries; one with no text or a repeated id is skipped with a warning.

        Control characters are removed from query texts, with one warning per file."""
        cleaned = _CleanedTexts("query(ies)")
        for record in records:
            query = cleaned.query(record)
            if not query.text.strip():
                self.log.warn("empty query", record.file, record.line, f"query {query.query_id!r} has no text; skipped.")
                continue
            if query.query_id in self.queries:
                self.log.warn("duplicate query id", record.file, record.line,
                              f"query id {query.query_id!r} appeared before; this copy was skipped.")
                continue
            self.queries[query.query_id] = query
        cleaned.report(self.log)

    def add_labels(self, split: str, records: Iterable[LabelRecord]) -> None:
        """Keeps the labels under ``split``; labels for unknown documents, or for unknown queries when queries were
        added, are skipped with a warning. Add the documents and queries first."""
        qrels = self.qrels.setdefault(split, {})
        for record in records:
            if record.doc_id not in self.documents:
                self.log.warn("label for unknown document", record.file, record.line,
                              f"label for document {record.doc_id!r}, which is not in the corpus; skipped. "
                              "Check that the labels belong to this corpus.")
                continue
            if self.queries and record.query_id not in self.queries:
                self.log.warn("label for unknown query", record.file, record.line,
                              f"label for query {record.query_id!r}, which is not in the queries file; skipped.")
                continue
            qrels.setdefault(record.query_id, {})[record.doc_id] = record.grade
            self._label_count += 1

    def build(self) -> LoadResult:
        """The data set and its report (splits without labels left out); DataLoadError when no document was kept."""
        if not self.documents:
            # the error is all the user sees of a failed load, so it quotes the problems that explain it
            quoted = "; ".join(str(problem).rstrip(".") for problem in self.log.listed[:QUOTED_PROBLEMS])
            found = f"The first problem(s): {quoted}." if quoted else "No line held a record: the input is blank."
            raise self.log.fatal(self.source, None, f"no documents could be read. {found} Check the format and, for a "
                                                    f"table, the column mapping ({COLUMN_OPTIONS}).")
        qrels = {split: labels for split, labels in self.qrels.items() if labels}
        labelled_ids = {query_id for labels in qrels.values() for query_id in labels}
        if labelled_ids and not self.queries:
            self.log.warn("labels without queries", self.source, None,
                          f"labels for {len(labelled_ids):,} queries, but no queries were loaded, so no query has a "
                          "text to search with and the labels cannot be used. Load the queries file with them.")
        dataset = Dataset(self.name, tuple(self.documents.values()), dict(self.queries), qrels)
        counts = dict(self.log.counts)
        report = LoadReport(
            source=self.source, documents=len(self.documents), queries=len(self.queries),
            labelled_queries=len(dataset.labelled_queries()),
            labels=self._label_count, empty_documents=self.empty_documents, problems=tuple(self.log.listed),
            problem_counts=counts,
        )
        return LoadResult(dataset, report)


class _CleanedTexts:
    """Removes control characters from records' texts, counting per file the records cleaned and the first line."""

    def __init__(self, what: str) -> None:
        self.what = what  # "document(s)", "query(ies)"
        self.per_file: dict[str, tuple[int, int | None]] = {}  # file -> (records cleaned, first line)

    def _count(self, file: str, line: int | None) -> None:
        count, first = self.per_file.get(file, (0, line))
        self.per_file[file] = (count + 1, first)

    def document(self, record: DocRecord) -> Document:
        """The record's document, its title and text cleaned (the same object when there was nothing to clean)."""
        doc = record.document
        title, text = without_control_characters(doc.title), without_control_characters(doc.text)
        if (title, text) == (doc.title, doc.text):
            return doc
        self._count(record.file, record.line)
        return replace(doc, title=title, text=text)

    def query(self, record: QueryRecord) -> Query:
        """The record's query, its text cleaned (the same object when there was nothing to clean)."""
        text = without_control_characters(record.query.text)
        if text == record.query.text:
            return record.query
        self._count(record.file, record.line)
        return replace(record.query, text=text)

    def report(self, log: ProblemLog) -> None:
        """One warning per file that had texts cleaned: how many, on the line of the first."""
        for file, (count, first) in self.per_file.items():
            where = "the first on this line" if first else "in this file"
            log.warn("control characters", file, first,
                     f"{count} {self.what} held NUL bytes or terminal control characters ({where}); they were "
                     "removed from the text.")

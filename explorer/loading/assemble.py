"""Turns loaded records into a Dataset, checking ids and labels, and writes the report the user sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from explorer.loading.problems import Problem, ProblemLog
from explorer.records import Dataset, Document, Query


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
        """Keeps the documents; an empty or repeated id is skipped with a warning, an empty text kept with one."""
        for record in records:
            doc = record.document
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

    def add_queries(self, records: Iterable[QueryRecord]) -> None:
        """Keeps the queries; one with no text or a repeated id is skipped with a warning."""
        for record in records:
            query = record.query
            if not query.text.strip():
                self.log.warn("empty query", record.file, record.line, f"query {query.query_id!r} has no text; skipped.")
                continue
            if query.query_id in self.queries:
                self.log.warn("duplicate query id", record.file, record.line,
                              f"query id {query.query_id!r} appeared before; this copy was skipped.")
                continue
            self.queries[query.query_id] = query

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
            raise self.log.fatal(self.source, None,
                                 "no documents could be read. See the problems above each line, or check the format "
                                 "and the column mapping.")
        qrels = {split: labels for split, labels in self.qrels.items() if labels}
        dataset = Dataset(self.name, tuple(self.documents.values()), dict(self.queries), qrels)
        counts = dict(self.log.counts)
        report = LoadReport(
            source=self.source, documents=len(self.documents), queries=len(self.queries),
            labelled_queries=len(dataset.labelled_queries()) if self.queries else len(
                {q for labels in qrels.values() for q in labels}),
            labels=self._label_count, empty_documents=self.empty_documents, problems=tuple(self.log.listed),
            problem_counts=counts,
        )
        return LoadResult(dataset, report)

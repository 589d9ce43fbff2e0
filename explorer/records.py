"""Typed records for a retrieval data set: documents, queries and graded relevance labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Callable, Mapping

from explorer.grades import GradeScale


@dataclass(frozen=True)
class Document:
    """One document of a corpus: its id, title, text and metadata."""

    doc_id: str
    title: str
    text: str
    # source file, date and any extra columns of the input, kept as text
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def full_text(self) -> str:
        """Title and body as one string, the form both models read."""
        return f"{self.title}. {self.text}" if self.title else self.text


@dataclass(frozen=True)
class Query:
    """One query: its id and text."""

    query_id: str
    text: str


# query id -> document id -> graded label (0 = judged not relevant)
Qrels = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Dataset:
    """A corpus with its queries and, per split, relevance labels."""

    name: str
    documents: tuple[Document, ...]
    queries: Mapping[str, Query]
    qrels_by_split: Mapping[str, Qrels] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", MappingProxyType({d.doc_id: d for d in self.documents}))

    def document(self, doc_id: str) -> Document:
        """The document with this id; raises KeyError when there is none."""
        return self._by_id[doc_id]  # type: ignore[attr-defined]

    def title_of(self, doc_id: str, words: int = 14) -> str:
        """A document's title, else its first ``words`` words, for lists that name documents; its id when there is
        no such document (a label may name one the corpus lacks)."""
        try:
            document = self.document(doc_id)
        except KeyError:
            return doc_id
        return document.title or " ".join(document.text.split()[:words]) or doc_id

    @cached_property
    def grade_scale(self) -> GradeScale:
        """The grades the labels of every split use (read once per data set; see ``explorer.grades``)."""
        return GradeScale.of(self.qrels_by_split.values())

    @property
    def splits(self) -> tuple[str, ...]:
        """The names of the labelled splits, sorted."""
        return tuple(sorted(self.qrels_by_split))

    def labels_for(self, query_id: str) -> dict[str, int]:
        """All labels of one query, from whichever split holds them."""
        labels: dict[str, int] = {}
        for qrels in self.qrels_by_split.values():
            labels.update(qrels.get(query_id, {}))
        return labels

    def labelled_queries(self, split: str | None = None) -> list[Query]:
        """Queries that have labels (in one split, or in any), in id order of the label file."""
        splits = [split] if split else list(self.splits)
        seen: dict[str, Query] = {}
        for name in splits:
            for query_id in self.qrels_by_split.get(name, {}):
                if query_id in self.queries and query_id not in seen:
                    seen[query_id] = self.queries[query_id]
        return list(seen.values())


@dataclass(frozen=True)
class FetchedDataset(Dataset):
    """Queries and labels held here, documents looked up elsewhere as they are needed (an attached Milvus
    collection): ``documents`` lists only those held here, and ``document()`` asks ``lookup`` for the rest."""

    lookup: Callable[[str], Document | None] | None = field(default=None, compare=False, repr=False)

    def document(self, doc_id: str) -> Document:
        """The document with this id, held here or looked up; raises KeyError when there is none."""
        held = self._by_id.get(doc_id)  # type: ignore[attr-defined]
        if held is not None:
            return held
        found = self.lookup(doc_id) if self.lookup is not None else None
        if found is None:
            raise KeyError(doc_id)
        return found


@dataclass(frozen=True)
class Hit:
    """One first-stage result: a document at a rank, with the first stage's score."""

    rank: int  # 1-based
    doc_id: str
    score: float
    passage_id: str | None = None  # the best-matching passage, when documents are split

"""Counts and tables that describe a loaded data set."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from explorer.records import Dataset
from explorer.views.result_tables import snippet


@dataclass(frozen=True)
class DatasetSummary:
    """Counts that describe a data set: documents, queries, labelled queries, labels per grade and queries per split."""

    documents: int
    queries: int
    labelled_queries: int
    labels: int
    labels_by_grade: dict[int, int]
    queries_by_split: dict[str, int]


def summarise(dataset: Dataset) -> DatasetSummary:
    """The counts of ``dataset``; labels are counted over every split, grades in ascending order."""
    grades: Counter[int] = Counter()
    for qrels in dataset.qrels_by_split.values():
        for labels in qrels.values():
            grades.update(labels.values())
    return DatasetSummary(
        documents=len(dataset.documents),
        queries=len(dataset.queries),
        labelled_queries=len(dataset.labelled_queries()),
        labels=sum(grades.values()),
        labels_by_grade=dict(sorted(grades.items())),
        queries_by_split={split: len(qrels) for split, qrels in dataset.qrels_by_split.items()},
    )


def labelled_query_table(dataset: Dataset) -> pd.DataFrame:
    """One row per labelled query and split: its text, how many documents are judged, and the best label."""
    rows = []
    for split in dataset.splits:
        for query_id, labels in dataset.qrels_by_split[split].items():
            query = dataset.queries.get(query_id)
            rows.append({
                "split": split, "query_id": query_id, "query": query.text if query else "(missing query text)",
                "judged": len(labels), "best label": max(labels.values(), default=None),
            })
    return pd.DataFrame(rows, columns=["split", "query_id", "query", "judged", "best label"])


def document_table(dataset: Dataset, limit: int | None = None) -> pd.DataFrame:
    """One row per document; metadata keys (source, date, extra columns) become columns of their own."""
    documents = dataset.documents[:limit] if limit else dataset.documents
    meta_keys = list(dict.fromkeys(key for d in documents for key in d.metadata))
    return pd.DataFrame(
        [{"doc_id": d.doc_id, "title": d.title, "text": snippet(d.text, 300), "words": len(d.text.split()),
          **{key: d.metadata.get(key) for key in meta_keys}} for d in documents],
        columns=["doc_id", "title", "text", "words", *meta_keys],
    )

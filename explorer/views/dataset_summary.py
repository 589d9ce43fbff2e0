"""Counts and tables that describe a loaded data set."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from explorer.records import Dataset
from explorer.signals.fields import FieldSummary, summarise_fields
from explorer.views.result_tables import snippet

FIELD_COLUMNS = ["field", "kind", "coverage", "range or values", "examples", "unreadable"]
UNREADABLE_COLUMNS = ["doc_id", "value as written", "reason"]


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


def metadata_fields(dataset: Dataset) -> list[FieldSummary]:
    """Every metadata field of ``dataset``'s documents, in the order they first appear (none: an empty list)."""
    return summarise_fields(dataset.documents)


def field_table(fields: Sequence[FieldSummary]) -> pd.DataFrame:
    """One row per metadata field: its kind, how many documents have it, its range (dates, numbers) or number of
    values (categories), a few values as written and how many could not be read as its kind."""
    return pd.DataFrame([{
        "field": field.name, "kind": field.kind, "coverage": f"{field.present:,} of {field.present + field.missing:,}",
        "range or values": _range_or_values(field), "examples": ", ".join(field.examples),
        "unreadable": len(field.bad_values),
    } for field in fields], columns=FIELD_COLUMNS)


def _range_or_values(field: FieldSummary) -> str:
    """Dates: earliest to latest; numbers: low to high; categories: how many values; text: nothing."""
    if field.kind == "date" and field.earliest and field.latest:
        return f"{field.earliest.isoformat()} to {field.latest.isoformat()}"
    if field.kind == "number" and field.low is not None and field.high is not None:
        return f"{field.low:g} to {field.high:g}"
    if field.kind == "category":
        return f"{field.distinct:,} values"
    return ""


def fields_with_unreadable_values(fields: Sequence[FieldSummary]) -> list[FieldSummary]:
    """The date and number fields with at least one value that could not be read as the field's kind."""
    return [field for field in fields if field.kind in ("date", "number") and field.bad_values]


def unreadable_summary(field: FieldSummary) -> str:
    """One sentence on a field's unreadable values: how many, and that their documents are kept."""
    count = len(field.bad_values)
    return (f"{count:,} value(s) of the {field.kind} field {field.name!r} could not be read as a {field.kind}. Those "
            f"documents are kept; they only count as having no value for this field's signal. Fix the values in the "
            f"source (dates as YYYY-MM-DD) and load it again to use them.")


def unreadable_table(field: FieldSummary) -> pd.DataFrame:
    """Every value of ``field`` that could not be read, line by line in corpus order: document id, the value as
    written and why it was not read."""
    return pd.DataFrame([{"doc_id": bad.doc_id, "value as written": bad.value, "reason": bad.reason}
                         for bad in field.bad_values], columns=UNREADABLE_COLUMNS)

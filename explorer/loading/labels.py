"""Queries (JSONL, TSV or CSV) and relevance labels (TREC qrels or BEIR TSV)."""

from __future__ import annotations

import csv
from typing import Iterator

from explorer.loading.assemble import LabelRecord, QueryRecord
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import TextSource, iter_json_objects, iter_lines
from explorer.records import Query

QUERY_ID_NAMES = ("_id", "id", "query_id", "qid", "query-id")
QUERY_TEXT_NAMES = ("text", "query", "question", "title")


def iter_queries(source: TextSource, log: ProblemLog) -> Iterator[QueryRecord]:
    """Queries from JSONL (.jsonl, .json, .ndjson), CSV (.csv) or else TSV: an id and a text each.

    Lines without both are skipped with a warning; a CSV/TSV header line is skipped."""
    if source.name.lower().endswith((".jsonl", ".json", ".ndjson")):
        yield from _json_queries(source, log)
    else:
        yield from _delimited_queries(source, log)


def _json_queries(source: TextSource, log: ProblemLog) -> Iterator[QueryRecord]:
    for line_no, record in iter_json_objects(source, log):
        query_id = next((record[k] for k in QUERY_ID_NAMES if k in record), None)
        text = next((record[k] for k in QUERY_TEXT_NAMES if k in record), None)
        if query_id is None or text is None:
            log.warn("missing field", source.name, line_no,
                     f"a query needs an id ({'/'.join(QUERY_ID_NAMES)}) and a text ({'/'.join(QUERY_TEXT_NAMES)}).")
            continue
        yield QueryRecord(source.name, line_no, Query(str(query_id), str(text)))


def _delimited_queries(source: TextSource, log: ProblemLog) -> Iterator[QueryRecord]:
    delimiter = "," if source.name.lower().endswith(".csv") else "\t"
    for line_no, line in iter_lines(source, log):
        if not line.strip():
            continue
        row = next(csv.reader([line], delimiter=delimiter))
        if line_no == 1 and row and row[0].strip().lower() in QUERY_ID_NAMES:
            continue  # header
        if len(row) < 2:
            log.warn("wrong field count", source.name, line_no,
                     "expected a query id and its text separated by " + ("a comma." if delimiter == "," else "a tab."))
            continue
        yield QueryRecord(source.name, line_no, Query(row[0].strip(), delimiter.join(row[1:]).strip()))


def iter_labels(source: TextSource, log: ProblemLog) -> Iterator[LabelRecord]:
    """TREC qrels (``qid 0 docid grade``, spaces or tabs) or BEIR TSV (``query-id corpus-id score``, header optional)."""
    for line_no, line in iter_lines(source, log):
        fields = line.split()
        if not fields:
            continue
        if line_no == 1 and fields[0].lower() in ("query-id", "query_id", "qid"):
            continue
        if len(fields) == 4:
            query_id, _, doc_id, grade_text = fields
        elif len(fields) == 3:
            query_id, doc_id, grade_text = fields
        else:
            log.warn("wrong field count", source.name, line_no,
                     f"{len(fields)} fields; expected 4 (TREC: qid 0 docid grade) or 3 (BEIR: query-id corpus-id score).")
            continue
        try:
            grade = int(float(grade_text))
        except ValueError:
            log.warn("bad grade", source.name, line_no, f"grade {grade_text!r} is not a number; skipped.")
            continue
        yield LabelRecord(source.name, line_no, query_id, doc_id, grade)

"""Queries (JSONL, TSV or CSV) and relevance labels (TREC qrels or BEIR TSV)."""

from __future__ import annotations

import csv
import math
from typing import Iterator

from explorer.loading.assemble import LabelRecord, QueryRecord
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import TextSource, iter_json_objects, iter_lines
from explorer.records import Query

QUERY_ID_NAMES = ("_id", "id", "query_id", "qid", "query-id")
QUERY_TEXT_NAMES = ("text", "query", "question", "title")
LABEL_HEADER_NAMES = ("query-id", "query_id", "qid")
# fields per line -> the layout's name and its fields
LABEL_LAYOUTS = {4: ("TREC qrels", "query-id iteration doc-id grade"), 3: ("BEIR qrels", "query-id corpus-id score")}


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
    """TREC qrels (``qid 0 docid grade``, spaces or tabs) or BEIR TSV (``query-id corpus-id score``, header optional).

    The first data line sets the file's layout (4 fields: TREC, 3: BEIR); a later line that does not fit it is
    skipped with a warning. A grade is read as trec_eval reads it: a fraction is cut to its whole part (with a
    warning), a negative grade is kept and counts as not relevant (one warning for the file)."""
    layout: tuple[int, int] | None = None  # (fields per line, the line that set it)
    negatives = 0
    first_negative: tuple[int, str] | None = None  # (line, grade)
    for line_no, line in iter_lines(source, log):
        fields = line.split()
        if not fields:
            continue
        if layout is None and fields[0].lower() in LABEL_HEADER_NAMES:
            continue  # a header, before any data line
        if layout is None and len(fields) not in LABEL_LAYOUTS:
            log.warn("wrong field count", source.name, line_no,
                     f"{len(fields)} fields; expected 4 (TREC: qid 0 docid grade) or 3 (BEIR: query-id corpus-id score).")
            continue
        layout = layout or (len(fields), line_no)
        if len(fields) != layout[0]:
            kind, names = LABEL_LAYOUTS[layout[0]]
            log.warn("wrong field count", source.name, line_no,
                     f"{len(fields)} fields; a {kind} line has {layout[0]}: {names} (line {layout[1]} set this "
                     "file's layout); skipped.")
            continue
        query_id, doc_id, grade_text = (fields[0], fields[2], fields[3]) if layout[0] == 4 else fields
        grade = _grade(grade_text, source.name, line_no, log)
        if grade is None:
            continue
        if grade < 0:
            negatives += 1
            first_negative = first_negative or (line_no, grade_text)
        yield LabelRecord(source.name, line_no, query_id, doc_id, grade)
    if first_negative is not None:
        first_line, first_grade = first_negative
        log.warn("negative grade", source.name, first_line,
                 f"{negatives} label(s) have a negative grade, the first {first_grade} on this line. They are kept "
                 "as given and count as not relevant: like trec_eval, the metrics count grades of 0 and below as "
                 "not relevant.")


def _grade(text: str, name: str, line_no: int, log: ProblemLog) -> int | None:
    """The whole-number grade ``text`` says, cut toward zero as trec_eval's atol() reads it; None when it is not a
    number (warned)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        log.warn("bad grade", name, line_no, f"grade {text!r} is not a number; skipped.")
        return None
    grade = int(value)
    if grade != value:
        log.warn("grade not whole", name, line_no,
                 f"grade {text} is not a whole number; read as {grade} (cut to its whole part, as trec_eval reads "
                 "it). Write whole-number grades.")
    return grade

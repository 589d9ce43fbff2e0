"""Documents from a table file (JSONL, CSV, TSV or Parquet) with a column mapping; extra columns become metadata.

A JSON object under a ``metadata`` key (as BEIR corpus lines carry) is flattened: each of its keys becomes a field
(``metadata.<key>`` where the row has that key at the top level too). Other nested objects and lists are kept as
JSON text; numbers and booleans as text."""

from __future__ import annotations

import csv
import json
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Literal

from explorer.loading.assemble import DocRecord
from explorer.loading.problems import COLUMN_OPTIONS, DELIMITER_OPTION, ProblemLog
from explorer.loading.reading import MAX_LINE_BYTES, TextSource, iter_json_objects, iter_lines
from explorer.records import Document

TableFormat = Literal["jsonl", "csv", "tsv", "parquet"]
TABLE_FORMATS: tuple[TableFormat, ...] = ("jsonl", "csv", "tsv", "parquet")
ID_NAMES = ("_id", "id", "doc_id", "docid", "document_id", "docno")
TITLE_NAMES = ("title", "name", "heading", "subject", "headline")
TEXT_NAMES = ("text", "body", "content", "contents", "passage", "abstract", "document")
DELIMITERS = {"csv": ",", "tsv": "\t"}  # each delimited format's usual delimiter
# The delimiters a table may use, by the name the page and the command line give them.
DELIMITER_CHOICES = {",": ",", ";": ";", "tab": "\t", "|": "|"}
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_LINES, SNIFF_CHARS = 50, 64 * 1024  # what the delimiter is sniffed from
# A JSON row's object under this key (BEIR corpus lines carry one) is read as metadata fields of their own.
NESTED_METADATA = "metadata"

csv.field_size_limit(MAX_LINE_BYTES)


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of a table hold each document's text, id, title and metadata."""

    text: str
    id: str | None = None  # None: rows are numbered from 1
    title: str | None = None
    metadata: tuple[str, ...] | None = None  # None: every other column


def format_from_name(name: str) -> TableFormat | None:
    """The table format a file name's suffix says (.jsonl/.ndjson/.json, .csv, .tsv/.tab, .parquet/.pq), or None."""
    lowered = name.lower()
    for suffix, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"), (".csv", "csv"),
                        (".tsv", "tsv"), (".tab", "tsv"), (".parquet", "parquet"), (".pq", "parquet")):
        if lowered.endswith(suffix):
            return fmt  # type: ignore[return-value]
    return None


def guess_mapping(columns: list[str]) -> ColumnMapping | None:
    """A mapping from familiar column names, or None when no text column can be guessed."""
    lowered = {c.lower(): c for c in columns}

    def find(names: tuple[str, ...]) -> str | None:
        return next((lowered[n] for n in names if n in lowered), None)

    text = find(TEXT_NAMES)
    if text is None:
        return None
    return ColumnMapping(text=text, id=find(ID_NAMES), title=find(TITLE_NAMES))


def delimiter_choice(name: str | None) -> str | None:
    """The delimiter a page or command-line choice names (",", ";", "tab", "|"); None (sniff it) for no choice."""
    return DELIMITER_CHOICES[name] if name else None


def sniff_delimiter(source: TextSource, fmt: TableFormat) -> str:
    """The delimiter csv.Sniffer finds in the first lines among , ; tab and |; the format's usual one when it finds
    none, or one the header line does not hold."""
    usual = DELIMITERS[fmt]
    lines: list[str] = []
    size = 0
    with closing(iter_lines(source, ProblemLog())) as numbered:  # its warnings come again in the full read
        for _, text in numbered:
            if lines and (len(lines) >= SNIFF_LINES or size + len(text) > SNIFF_CHARS):
                break
            if text.strip():
                lines.append(text[:SNIFF_CHARS])
                size += len(lines[-1])
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITER_NAMES)).delimiter
    except csv.Error:  # no delimiter is used the same way on every line
        return usual
    return found if lines and found in lines[0] else usual


def peek_columns(source: TextSource, fmt: TableFormat, log: ProblemLog, rows: int = 50,
                 delimiter: str | None = None) -> list[str]:
    """Column names, from the header (CSV/TSV), the schema (Parquet) or the first JSON objects (JSONL).

    ``delimiter`` (CSV/TSV) is sniffed from the first lines when None."""
    if fmt == "parquet":
        return list(_parquet_file(source, log).schema_arrow.names)
    if fmt in DELIMITERS:
        delimiter = delimiter or sniff_delimiter(source, fmt)
        for _, header in _csv_rows(source, delimiter, fmt, log):
            header = [h.strip() for h in header]
            _check_delimiter(header, fmt, delimiter, source.name, log)
            return header
        return []
    seen: dict[str, None] = {}
    for count, (_, record) in enumerate(iter_json_objects(source, ProblemLog())):
        if count >= rows:
            break
        seen.update(dict.fromkeys(record))
    return list(seen)


def iter_table_documents(source: TextSource, fmt: TableFormat, mapping: ColumnMapping, log: ProblemLog,
                         delimiter: str | None = None) -> Iterator[DocRecord]:
    """A document per row of the table, its fields taken from the columns ``mapping`` names.

    ``delimiter`` (CSV/TSV) is sniffed from the first lines when None; a sniffed delimiter other than the format's
    usual one is said in the report. Rows without the text column or without an id value are skipped with a
    warning."""
    if fmt in DELIMITERS:
        if delimiter is None:
            delimiter = sniff_delimiter(source, fmt)
            if delimiter != DELIMITERS[fmt]:
                log.warn("delimiter sniffed", source.name, None,
                         f"read as {DELIMITER_NAMES[delimiter]}-separated ({delimiter!r}, sniffed from the first "
                         f"lines), not {DELIMITER_NAMES[DELIMITERS[fmt]]}-separated as {fmt.upper()} usually is. "
                         f"If that is wrong, choose the delimiter: {DELIMITER_OPTION}.")
        rows = _csv_dict_rows(source, fmt, delimiter, mapping, log)
    else:
        rows = {"jsonl": _json_rows, "parquet": _parquet_rows}[fmt](source, fmt, mapping, log)
    for line_no, row in rows:
        document = _document(row, mapping, line_no, source.name, log)
        if document is not None:
            yield DocRecord(source.name, line_no, document)


def _document(row: dict[str, Any], mapping: ColumnMapping, line_no: int, name: str, log: ProblemLog) -> Document | None:
    if mapping.text not in row:
        log.warn("missing field", name, line_no,
                 f"no {mapping.text!r} field; the record was skipped. Its fields: {_listed(row)}.")
        return None
    if mapping.id is not None and (mapping.id not in row or row[mapping.id] in (None, "")):
        log.warn("missing field", name, line_no, f"no {mapping.id!r} (id) value; the record was skipped.")
        return None
    doc_id = str(row[mapping.id]) if mapping.id is not None else str(line_no)
    used = {mapping.text, mapping.id, mapping.title}
    wanted = mapping.metadata if mapping.metadata is not None else [k for k in row if k not in used]
    metadata: dict[str, str] = {}
    for key in wanted:
        if key not in row:
            continue
        if key == NESTED_METADATA and isinstance(row[key], dict):
            metadata.update(_flattened(row[key], row, used))
        elif row[key] not in (None, ""):
            metadata[key] = _as_text(row[key])
    title = _as_text(row.get(mapping.title)) if mapping.title else ""
    return Document(doc_id=doc_id, title=title, text=_as_text(row[mapping.text]), metadata=metadata)


def _flattened(nested: dict[str, Any], row: dict[str, Any], used: set[str | None]) -> dict[str, str]:
    """The fields of a row's nested ``metadata`` object, each under its own name, or as ``metadata.<name>`` where the
    row has a top-level key of that name (or the mapping uses it for the text, id or title), which keeps its own."""
    fields: dict[str, str] = {}
    for key, value in nested.items():
        if value in (None, ""):
            continue
        name = f"{NESTED_METADATA}.{key}" if key in row or key in used else str(key)
        if name not in row:  # a top-level "metadata.<key>" as well: the top-level one is kept
            fields[name] = _as_text(value)
    return fields


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_rows(source: TextSource, fmt: str, mapping: ColumnMapping, log: ProblemLog) -> Iterator[tuple[int, dict]]:
    return iter_json_objects(source, log)


def _csv_rows(source: TextSource, delimiter: str, fmt: str, log: ProblemLog) -> Iterator[tuple[int, list[str]]]:
    """Rows with the physical line number where each starts; quoted fields may span lines."""
    line_starts: list[int] = []

    def lines() -> Iterator[str]:
        for line_no, text in iter_lines(source, log):
            line_starts.append(line_no)
            yield text + "\n"

    reader = csv.reader(lines(), delimiter=delimiter)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            log.warn("malformed row", source.name, line_starts[-1] if line_starts else None,
                     f"could not be read as {fmt.upper()} ({exc}); skipped.")
            continue
        yield (line_starts[-1] if line_starts else 0), row


def _csv_dict_rows(source: TextSource, fmt: str, delimiter: str, mapping: ColumnMapping,
                   log: ProblemLog) -> Iterator[tuple[int, dict]]:
    rows = _csv_rows(source, delimiter, fmt, log)
    header_line, header = next(rows, (0, []))
    header = [h.strip() for h in header]
    _check_header(header, fmt, mapping, source.name, log, delimiter)
    for line_no, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            log.warn("wrong field count", source.name, line_no,
                     f"{len(row)} fields where the header has {len(header)}; skipped. Quote fields that hold "
                     f"the delimiter.")
            continue
        yield line_no, dict(zip(header, row))


def _listed(columns: Iterable[str]) -> str:
    return ", ".join(map(repr, columns))


def _check_header(header: list[str], fmt: str, mapping: ColumnMapping, name: str, log: ProblemLog,
                  delimiter: str | None = None) -> None:
    needed = [c for c in (mapping.text, mapping.id, mapping.title) if c]
    missing = [c for c in needed if c not in header]
    if not missing:
        return
    if delimiter is not None:
        _check_delimiter(header, fmt, delimiter, name, log)
    raise log.fatal(name, 1, f"missing column(s) {_listed(missing)}; the header has {_listed(header)}. Map the id, "
                             f"title and text columns to these names ({COLUMN_OPTIONS}).")


def _check_delimiter(header: list[str], fmt: str, delimiter: str, name: str, log: ProblemLog) -> None:
    """A one-column header holding another delimiter means the file was split with the wrong one."""
    if len(header) != 1:
        return
    other = next((d for d in DELIMITER_NAMES if d in header[0] and d != delimiter), None)
    if other is None:
        return
    used = fmt.upper() if delimiter == DELIMITERS[fmt] else DELIMITER_NAMES[delimiter]
    choice = next(choice for choice, d in DELIMITER_CHOICES.items() if d == other)
    raise log.fatal(name, 1, f"the header is one column, {header[0][:60]!r}, which holds {DELIMITER_NAMES[other]}s: "
                             f"the file is not {used}-delimited. Choose the delimiter {choice!r} ({DELIMITER_OPTION}), "
                             "or leave it to be sniffed.")


def _parquet_file(source: TextSource, log: ProblemLog):
    import pyarrow.parquet as pq

    handle = source.open(log)
    try:
        return pq.ParquetFile(handle)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise log.fatal(source.name, None, f"not a readable Parquet file ({exc}). "
                                           "Choose the format that matches the file.") from exc


def _parquet_rows(source: TextSource, fmt: str, mapping: ColumnMapping, log: ProblemLog) -> Iterator[tuple[int, dict]]:
    parquet = _parquet_file(source, log)
    _check_header(list(parquet.schema_arrow.names), "parquet", mapping, source.name, log)
    row_no = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            row_no += 1
            yield row_no, row

"""Loading data: one entry point, ``read_dataset``, for every supported input.

Formats: a BEIR folder, or a zip of one; a JSONL / CSV / TSV / Parquet table with a column mapping; a folder or
zip of .txt and .md files; plain text with one document per line; an ir_datasets id. Queries (JSONL/TSV/CSV) and labels
(TREC qrels or BEIR TSV) can come with any corpus format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from explorer.loading.assemble import DatasetBuilder, LoadReport, LoadResult
from explorer.loading.beir import load_beir, read_beir, read_beir_zip
from explorer.loading.irds import read_ir_dataset
from explorer.loading.labels import iter_labels, iter_queries
from explorer.loading.paths import check_readable
from explorer.loading.plain_lines import iter_line_documents
from explorer.loading.problems import TEXT_COLUMN_OPTION, Problem, ProblemLog
from explorer.loading.reading import TextSource
from explorer.loading.tables import (
    DELIMITER_CHOICES,
    DELIMITERS,
    ColumnMapping,
    TableFormat,
    delimiter_choice,
    format_from_name,
    guess_mapping,
    iter_table_documents,
    peek_columns,
)
from explorer.loading.text_files import DEFAULT_MAX_DOCUMENT_BYTES, iter_folder_documents, iter_zip_documents

CorpusKind = Literal["beir", "table", "text_folder", "text_zip", "lines", "ir_datasets"]
CORPUS_KINDS: tuple[CorpusKind, ...] = ("beir", "table", "text_folder", "text_zip", "lines", "ir_datasets")
DEFAULT_MAX_UPLOAD_MB = 200

__all__ = ["CORPUS_KINDS", "DELIMITER_CHOICES", "ColumnMapping", "CorpusKind", "LoadReport", "LoadResult", "LoadSpec",
           "Problem", "TableFormat", "TextSource", "check_upload_size", "delimiter_choice", "format_from_name",
           "guess_mapping", "load_beir", "peek_columns", "read_beir", "read_dataset"]


@dataclass(frozen=True)
class LoadSpec:
    """What to load: the kind of corpus and where it is, with optional queries and labels, and the upload limit."""

    kind: CorpusKind
    name: str
    folder: Path | None = None  # beir, text_folder
    corpus: TextSource | None = None  # table, text_zip, lines; beir: a zip of the folder, instead of ``folder``
    table_format: TableFormat | None = None
    mapping: ColumnMapping | None = None
    delimiter: str | None = None  # CSV/TSV tables: one of DELIMITER_CHOICES' values; None: sniffed from the file
    ir_datasets_id: str | None = None
    queries: TextSource | None = None
    labels: TextSource | None = None
    labels_split: str = "test"
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    max_document_mb: int = DEFAULT_MAX_DOCUMENT_BYTES // (1024 * 1024)  # one text file of a folder or zip
    # the folders a path may be read from (the pages: the server's data folders); None: any path (the CLI)
    readable_roots: tuple[Path, ...] | None = None


def check_upload_size(name: str, size: int, max_mb: int) -> None:
    """Raises DataLoadError when a file of ``size`` bytes is over ``max_mb`` MB, or empty."""
    if size > max_mb * 1024 * 1024:
        raise ProblemLog.fatal(name, None, f"the file is {size / 1024 / 1024:,.0f} MB, over the {max_mb} MB upload "
                                           "limit. Load it from a path on this machine, split it, or raise "
                                           "EXPLORER_MAX_UPLOAD_MB.")
    if size == 0:
        raise ProblemLog.fatal(name, None, "the file is empty (0 bytes). Choose the file that holds the data.")


def read_dataset(spec: LoadSpec, progress: Callable[[int, int], None] | None = None) -> LoadResult:
    """Read, validate and assemble. Fatal problems raise DataLoadError; the rest are in the report.

    ``progress(bytes_read, total_bytes)`` is called now and then while the corpus is read."""
    for source in (spec.corpus, spec.queries, spec.labels):
        if source is not None and source.size is not None:
            check_upload_size(source.name, source.size, spec.max_upload_mb)
    if spec.readable_roots is not None:
        for path in _paths(spec):
            check_readable(path, spec.readable_roots)
    if spec.kind == "beir":
        # a BEIR folder carries its own queries and labels
        if spec.corpus is not None:
            return read_beir_zip(spec.corpus, spec.name or None, spec.max_upload_mb * 1024 * 1024, progress)
        return read_beir(_need(spec.folder, "BEIR folder (or zip of one)"), spec.name or None, spec.readable_roots)
    if spec.kind == "ir_datasets":
        return read_ir_dataset(_need(spec.ir_datasets_id, "ir_datasets id"))
    log = ProblemLog(progress)
    builder = DatasetBuilder(spec.name, _describe(spec), log)
    if spec.kind == "table":
        corpus = _need(spec.corpus, "corpus file")
        fmt = spec.table_format or format_from_name(corpus.name)
        if fmt is None:
            raise log.fatal(corpus.name, None, "unknown table format. Use .jsonl, .csv, .tsv or .parquet, or choose "
                                               "the format by hand.")
        _check_delimiter_choice(spec.delimiter, fmt, corpus.name)
        mapping = spec.mapping
        if mapping is None:
            # its warnings come again in the full read
            columns = peek_columns(corpus, fmt, ProblemLog(), delimiter=spec.delimiter)
            if not columns:
                raise log.fatal(corpus.name, None, "found no columns: the first lines hold no JSON object (JSONL) "
                                                   "or no header (CSV/TSV). Check the file and its format.")
            mapping = guess_mapping(columns)
            if mapping is None:
                raise log.fatal(corpus.name, None, "no text column could be guessed (looked for text/body/content/"
                                                   f"passage); the columns are {', '.join(map(repr, columns))}. Map "
                                                   f"the columns by hand: name the text column ({TEXT_COLUMN_OPTION}).")
        builder.add_documents(iter_table_documents(corpus, fmt, mapping, log, spec.delimiter))
    elif spec.kind == "text_folder":
        builder.add_documents(iter_folder_documents(_need(spec.folder, "folder"), log,
                                                    spec.max_document_mb * 1024 * 1024, spec.readable_roots))
    elif spec.kind == "text_zip":
        builder.add_documents(iter_zip_documents(_need(spec.corpus, "zip file"), log, spec.max_upload_mb * 1024 * 1024,
                                                 spec.max_document_mb * 1024 * 1024))
    elif spec.kind == "lines":
        builder.add_documents(iter_line_documents(_need(spec.corpus, "text file"), log))
    else:
        raise log.fatal(spec.name, None, f"unknown corpus kind {spec.kind!r}; choose one of {', '.join(CORPUS_KINDS)}.")
    _add_queries_and_labels(builder, spec, log)
    return builder.build()


def _add_queries_and_labels(builder: DatasetBuilder, spec: LoadSpec, log: ProblemLog) -> None:
    if spec.queries is not None:
        builder.add_queries(iter_queries(spec.queries, log))
    if spec.labels is not None:
        builder.add_labels(spec.labels_split or "test", iter_labels(spec.labels, log))


def _paths(spec: LoadSpec) -> list[Path]:
    """Every path on this machine that ``spec`` would read."""
    paths = [spec.folder] if spec.folder is not None else []
    return paths + [source.path for source in (spec.corpus, spec.queries, spec.labels)
                    if source is not None and source.path is not None]


def _check_delimiter_choice(delimiter: str | None, fmt: TableFormat, name: str) -> None:
    """Raises DataLoadError for a delimiter that is not one of the choices, or given for a table that has none."""
    if delimiter is None:
        return
    if fmt not in DELIMITERS:
        raise ProblemLog.fatal(name, None, f"a delimiter applies to CSV and TSV tables, not {fmt.upper()}. Leave the "
                                           "delimiter out, or choose the CSV or TSV format.")
    if delimiter not in DELIMITER_CHOICES.values():
        raise ProblemLog.fatal(name, None, f"the delimiter {delimiter!r} is not one of "
                                           f"{', '.join(map(repr, DELIMITER_CHOICES.values()))}. Choose one of them, "
                                           "or none to have it sniffed.")


def _need(value, what: str):
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ProblemLog.fatal("input", None, f"no {what} given. Choose one and load again.")
    return value


def _describe(spec: LoadSpec) -> str:
    if spec.corpus is not None:
        return spec.corpus.name
    return str(spec.folder or spec.ir_datasets_id or spec.name)

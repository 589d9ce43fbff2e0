"""The BEIR folder layout: corpus.jsonl, queries.jsonl and qrels/<split>.tsv (any split name).

Fields of corpus lines other than _id, title and text are kept as metadata.
"""

from __future__ import annotations

from pathlib import Path

from explorer.loading.assemble import DatasetBuilder, LoadResult
from explorer.loading.labels import iter_labels, iter_queries
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import TextSource
from explorer.loading.tables import ColumnMapping, iter_table_documents
from explorer.records import Dataset

BEIR_MAPPING = ColumnMapping(text="text", id="_id", title="title")


def read_beir(folder: str | Path, name: str | None = None) -> LoadResult:
    """The data set in a BEIR folder, with its load report; each qrels/<split>.tsv becomes a split."""
    root = Path(folder).expanduser()
    log = ProblemLog()
    if not root.is_dir():
        raise log.fatal(str(root), None, "No folder there. Give the path of a folder that holds corpus.jsonl.")
    corpus = root / "corpus.jsonl"
    if not corpus.is_file():
        raise log.fatal(str(root), None, "no corpus.jsonl in this folder. A BEIR folder holds corpus.jsonl, "
                                         "queries.jsonl and qrels/<split>.tsv.")
    builder = DatasetBuilder(name or root.name, str(root), log)
    builder.add_documents(iter_table_documents(TextSource.from_path(corpus), "jsonl", BEIR_MAPPING, log))
    queries = root / "queries.jsonl"
    if queries.is_file() and queries.stat().st_size == 0:
        log.warn("empty file", str(queries.name), None, "queries.jsonl is empty; no queries were loaded.")
    elif queries.is_file():
        builder.add_queries(iter_queries(TextSource.from_path(queries), log))
    for qrels in sorted((root / "qrels").glob("*.tsv")) if (root / "qrels").is_dir() else []:
        builder.add_labels(qrels.stem, iter_labels(TextSource.from_path(qrels), log))
    return builder.build()


def load_beir(folder: str | Path, name: str | None = None) -> Dataset:
    """The data set alone; warnings are dropped (use ``read_beir`` for the report)."""
    return read_beir(folder, name).dataset

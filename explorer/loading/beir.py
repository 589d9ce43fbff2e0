"""The BEIR folder layout: corpus.jsonl, queries.jsonl and qrels/<split>.tsv (any split name).

Fields of corpus lines other than _id, title and text are kept as metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from explorer.loading.assemble import DatasetBuilder, LoadResult
from explorer.loading.labels import iter_labels, iter_queries
from explorer.loading.paths import LINK_OUTSIDE, is_readable
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import TextSource
from explorer.loading.tables import ColumnMapping, iter_table_documents
from explorer.records import Dataset

BEIR_MAPPING = ColumnMapping(text="text", id="_id", title="title")
# A file whose name holds one of these words, or ends in one of these suffixes, looks like relevance labels.
LABEL_WORDS = ("qrel", "label", "judg")
LABEL_SUFFIXES = (".trec", ".qrels")


def read_beir(folder: str | Path, name: str | None = None,
              readable_roots: Sequence[Path] | None = None) -> LoadResult:
    """The data set in a BEIR folder, with its load report; each qrels/<split>.tsv becomes a split.

    ``readable_roots`` (the pages: the server's data folders; None: anywhere) also bounds the files inside the
    folder: one that is a symbolic link leading out of them is not read (a corpus so linked ends the load)."""
    root = Path(folder).expanduser()
    log = ProblemLog()
    if not root.is_dir():
        raise log.fatal(str(root), None, "No folder there. Give the path of a folder that holds corpus.jsonl.")
    corpus = root / "corpus.jsonl"
    if corpus.is_symlink() and not is_readable(corpus, readable_roots):
        raise log.fatal(corpus.name, None, LINK_OUTSIDE)
    if not corpus.is_file():
        raise log.fatal(str(root), None, "no corpus.jsonl in this folder. A BEIR folder holds corpus.jsonl, "
                                         "queries.jsonl and qrels/<split>.tsv.")
    builder = DatasetBuilder(name or root.name, str(root), log)
    builder.add_documents(iter_table_documents(TextSource.from_path(corpus), "jsonl", BEIR_MAPPING, log))
    queries = root / "queries.jsonl"
    if not _linked_outside(queries, root, readable_roots, log) and queries.is_file():
        if queries.stat().st_size == 0:
            log.warn("empty file", str(queries.name), None, "queries.jsonl is empty; no queries were loaded.")
        else:
            builder.add_queries(iter_queries(TextSource.from_path(queries), log))
    qrels_folder = root / "qrels"
    qrels_readable = not _linked_outside(qrels_folder, root, readable_roots, log)
    if qrels_readable and qrels_folder.is_dir():
        for qrels in sorted(qrels_folder.glob("*.tsv")):
            if not _linked_outside(qrels, root, readable_roots, log):
                builder.add_labels(qrels.stem, iter_labels(TextSource.from_path(qrels), log))
    for unread in unread_label_files(root, look_in_qrels=qrels_readable):
        log.warn("labels not read", unread, None,
                 "this looks like relevance labels but was not read: a BEIR folder's labels are read from "
                 "qrels/<split>.tsv only (the file name is the split). Move it to, e.g., qrels/test.tsv; TREC qrels "
                 "lines are read there too.")
    return builder.build()


def _linked_outside(path: Path, root: Path, readable_roots: Sequence[Path] | None, log: ProblemLog) -> bool:
    """Whether ``path`` in the BEIR folder ``root`` is a symbolic link out of ``readable_roots`` (then noted)."""
    if not path.is_symlink() or is_readable(path, readable_roots):
        return False
    log.warn("link outside", path.relative_to(root).as_posix(), None, LINK_OUTSIDE)
    return True


def unread_label_files(root: Path, look_in_qrels: bool = True) -> list[str]:
    """Files of a BEIR folder that look like labels but are not qrels/<split>.tsv, relative to ``root``: those at the
    top named like labels (qrels.txt, test.qrels, labels.tsv, ...) and any other file in qrels/ (unless
    ``look_in_qrels`` is False: a qrels/ that links out of the data folders is not listed either)."""
    top = [path for path in root.iterdir() if path.is_file() and path.name not in ("corpus.jsonl", "queries.jsonl")
           and (any(word in path.name.lower() for word in LABEL_WORDS) or path.suffix.lower() in LABEL_SUFFIXES)]
    qrels = root / "qrels"
    inside = ([path for path in qrels.iterdir() if path.is_file() and path.suffix != ".tsv"]
              if look_in_qrels and qrels.is_dir() else [])
    return sorted(path.relative_to(root).as_posix() for path in top + inside if not path.name.startswith("."))


def load_beir(folder: str | Path, name: str | None = None,
              readable_roots: Sequence[Path] | None = None) -> Dataset:
    """The data set alone; warnings are dropped (use ``read_beir`` for the report)."""
    return read_beir(folder, name, readable_roots).dataset

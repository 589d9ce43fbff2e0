"""The BEIR folder layout: corpus.jsonl, queries.jsonl and qrels/<split>.tsv (any split name), as a folder or
uploaded as a zip of the folder.

Fields of corpus lines other than _id, title and text are kept as metadata; a nested ``metadata`` object's fields
become fields of their own (``metadata.<key>`` where the line has that key at its top level too).
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence
from zipfile import ZipInfo

from explorer.loading.assemble import DatasetBuilder, LoadResult
from explorer.loading.labels import iter_labels, iter_queries
from explorer.loading.paths import LINK_OUTSIDE, is_readable
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import TextSource
from explorer.loading.tables import ColumnMapping, iter_table_documents
from explorer.loading.zip_files import extract_members, member_path, open_zip, safe_members
from explorer.records import Dataset

BEIR_MAPPING = ColumnMapping(text="text", id="_id", title="title")
# A file whose name holds one of these words, or ends in one of these suffixes, looks like relevance labels.
LABEL_WORDS = ("qrel", "label", "judg")
LABEL_SUFFIXES = (".trec", ".qrels")


def read_beir(folder: str | Path, name: str | None = None, readable_roots: Sequence[Path] | None = None,
              log: ProblemLog | None = None, source: str | None = None) -> LoadResult:
    """The data set in a BEIR folder, with its load report; each qrels/<split>.tsv becomes a split.

    ``readable_roots`` (the pages: the server's data folders; None: anywhere) also bounds the files inside the
    folder: one that is a symbolic link leading out of them is not read (a corpus so linked ends the load).
    ``log`` holds problems found before (a new one when None); ``source`` names the input in the report (the
    folder when None)."""
    root = Path(folder).expanduser()
    log = log if log is not None else ProblemLog()
    if not root.is_dir():
        raise log.fatal(str(root), None, "No folder there. Give the path of a folder that holds corpus.jsonl.")
    corpus = root / "corpus.jsonl"
    if corpus.is_symlink() and not is_readable(corpus, readable_roots):
        raise log.fatal(corpus.name, None, LINK_OUTSIDE)
    if not corpus.is_file():
        raise log.fatal(str(root), None, "no corpus.jsonl in this folder. A BEIR folder holds corpus.jsonl, "
                                         "queries.jsonl and qrels/<split>.tsv.")
    builder = DatasetBuilder(name or root.name, source or str(root), log)
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


def read_beir_zip(source: TextSource, name: str | None, max_bytes: int,
                  progress: Callable[[int, int], None] | None = None) -> LoadResult:
    """The data set in an uploaded zip of a BEIR folder, with its load report: the folder of its corpus.jsonl (at the
    top of the zip, or in the one folder that zipping a folder makes) is unpacked into a temporary folder and read by
    ``read_beir``, so the same problems are reported as for the folder itself.

    The zip is read as every zip is (``explorer.loading.zip_files``: unsafe member paths skipped with a note, at most
    ``MAX_EXPANSION`` x ``max_bytes`` unpacked, likely zip bombs refused); gzipped members are not read, with a note."""
    log = ProblemLog(progress)
    with open_zip(source, log) as archive:
        members = safe_members(archive, source.name, log)
        root = _zipped_beir_root(members, source.name, log)
        kept = []
        for member in members:
            path = member_path(member)
            if not path.is_relative_to(root):
                continue
            if path.suffix.lower() == ".gz":
                log.warn("compressed file", f"{source.name}:{member.filename}", None,
                         "gzipped; not read: the files of a BEIR folder are read unpacked. Unpack it (gunzip) and "
                         "zip the folder again.")
                continue
            kept.append(member)
        with tempfile.TemporaryDirectory(prefix="explorer-beir-zip-") as work:
            extract_members(archive, kept, root, Path(work), source.name, max_bytes, log)
            return read_beir(work, name or Path(source.name).stem, log=log, source=source.name)


def _zipped_beir_root(members: list[ZipInfo], zip_name: str, log: ProblemLog) -> PurePosixPath:
    """The folder inside the zip that holds corpus.jsonl: the shallowest one, which must be the only one that deep."""
    folders = sorted({member_path(m).parent for m in members if member_path(m).name == "corpus.jsonl"},
                     key=lambda folder: (len(folder.parts), str(folder)))
    if not folders:
        gzipped = [m.filename for m in members if member_path(m).name == "corpus.jsonl.gz"]
        if gzipped:
            raise log.fatal(f"{zip_name}:{gzipped[0]}", None, "the corpus is gzipped, and the files of a BEIR folder "
                                                             "are read unpacked. Unpack it (gunzip corpus.jsonl.gz) "
                                                             "and zip the folder again.")
        raise log.fatal(zip_name, None, "the zip holds no corpus.jsonl. A BEIR zip holds corpus.jsonl, queries.jsonl "
                                        "and qrels/<split>.tsv, at its top or in one folder: zip the BEIR folder "
                                        "itself.")
    tied = [folder for folder in folders if len(folder.parts) == len(folders[0].parts)]
    if len(tied) > 1:
        listed = ", ".join(f"{folder}/" for folder in tied)
        raise log.fatal(zip_name, None, f"the zip holds several BEIR folders ({listed}). Zip one folder at a time.")
    return folders[0]


def load_beir(folder: str | Path, name: str | None = None,
              readable_roots: Sequence[Path] | None = None) -> Dataset:
    """The data set alone; warnings are dropped (use ``read_beir`` for the report)."""
    return read_beir(folder, name, readable_roots).dataset

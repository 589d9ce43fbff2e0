"""Loaded data sets are saved once, in BEIR layout (metadata kept), so every page and session can reopen them.

A saved folder holds corpus.jsonl, queries.jsonl, qrels/<split>.tsv and report.json. Its name ends with a
hash of the content, so loading the same data again reuses the folder and its embedding cache.

A data set loaded on a page belongs to the session that loaded it unless it is shared on purpose: ``sharing.json``
in its folder says which. Folders without it (saved by the command line, or before sharing existed) are shared.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Collection, Mapping

from explorer.errors import DataLoadError
from explorer.loading.assemble import LoadReport, LoadResult
from explorer.loading.reading import MAX_LINE_BYTES
from explorer.loading.tables import NESTED_METADATA


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "dataset"


SHARING = "sharing.json"
BEIR_KEYS = ("_id", "title", "text")  # the keys of a saved corpus line that are not metadata


def save_dataset(result: LoadResult, root: Path, shared: bool = True) -> Path:
    """Saves the data set under ``root`` in BEIR layout with report.json; returns its folder. ``shared``: listed
    for every session of the server (else only for the sessions that loaded it; see ``saved_datasets``).

    The folder is named after the data set and a hash of its content; when it already exists, it is kept as it is.
    Each save writes into a staging folder of its own and renames it into place in one step, so loads running at
    the same time (two browser sessions, the app and the command line) never mix their files, and a reader never
    sees a half-written data set."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        folder = _write_and_publish(result, root, staging, shared)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it was renamed into place
    if shared and not is_shared(folder):  # the same content loaded before, privately: now shared on purpose
        (folder / SHARING).write_text(json.dumps({"shared": True}), encoding="utf-8")
    return folder


def is_shared(folder: Path) -> bool:
    """Whether the saved data set in ``folder`` is listed for every session (no ``sharing.json``: shared)."""
    try:
        return bool(json.loads((Path(folder) / SHARING).read_text(encoding="utf-8")).get("shared", True))
    except FileNotFoundError:
        return True
    except (OSError, ValueError, AttributeError):
        return False  # an unreadable marker keeps the data set private


def _write_and_publish(result: LoadResult, root: Path, staging: Path, shared: bool) -> Path:
    (staging / "qrels").mkdir()
    (staging / SHARING).write_text(json.dumps({"shared": shared}), encoding="utf-8")
    digest = hashlib.sha256()
    dataset = result.dataset
    with (staging / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for doc in dataset.documents:
            record = {"_id": doc.doc_id, "title": doc.title, "text": doc.text, **_saved_metadata(doc.metadata)}
            line = json.dumps(record, ensure_ascii=False) + "\n"
            _check_readable_back(line, doc.doc_id)
            digest.update(line.encode())
            out.write(line)
    if dataset.queries:  # no queries, no queries.jsonl
        with (staging / "queries.jsonl").open("w", encoding="utf-8") as out:
            for query in dataset.queries.values():
                line = json.dumps({"_id": query.query_id, "text": query.text}, ensure_ascii=False) + "\n"
                digest.update(line.encode())
                out.write(line)
    for split, qrels in dataset.qrels_by_split.items():
        with (staging / "qrels" / f"{_slug(split)}.tsv").open("w", encoding="utf-8") as out:
            out.write("query-id\tcorpus-id\tscore\n")
            for query_id, labels in qrels.items():
                for doc_id, grade in labels.items():
                    line = f"{query_id}\t{doc_id}\t{grade}\n"
                    digest.update(line.encode())
                    out.write(line)
    (staging / "report.json").write_text(json.dumps(asdict(result.report), indent=1, default=str), encoding="utf-8")
    target = root / f"{_slug(dataset.name)}-{digest.hexdigest()[:10]}"
    if not target.exists():
        try:
            os.rename(staging, target)
        except OSError:
            # Another load of the same content renamed its copy into place first: the same files, keep those.
            if not (target / "corpus.jsonl").is_file():
                raise
    return target


def _saved_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """A document's metadata as top-level keys of its corpus line, which BEIR reading gives back as they are. A field
    named like a key the line holds itself (_id, title, text: a table column not mapped to that role) is saved as
    ``metadata.<name>``, the name BEIR reading gives a nested field of that name, rather than dropped."""
    saved: dict[str, str] = {}
    for key, value in metadata.items():
        name = f"{NESTED_METADATA}.{key}" if key in BEIR_KEYS else key
        if name == key or name not in metadata:  # a field already named "metadata.title" keeps that name
            saved[name] = value
    return saved


def _check_readable_back(line: str, doc_id: str) -> None:
    """Refuses to save a document whose line the data set's own reader would refuse (over its line limit)."""
    size = len(line.encode("utf-8"))
    if size > MAX_LINE_BYTES:
        raise DataLoadError(f"document {doc_id!r} is {size / 1024 / 1024:,.1f} MB as a saved line, over the "
                            f"{MAX_LINE_BYTES // (1024 * 1024)} MB a line of corpus.jsonl may hold, so the saved data set "
                            "could not be read back. Nothing was saved. Split the document into smaller ones.")


def saved_datasets(root: Path, mine: Collection[str] | None = None) -> list[Path]:
    """Saved data set folders, newest first: every one (``mine`` None: the command line, a shared workspace), or
    the shared ones and those named in ``mine`` (the folders a browser session loaded)."""
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "corpus.jsonl").is_file()
               and (mine is None or p.name in mine or is_shared(p))]
    return sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)


def check_not_private(path: str | Path, root: Path, mine: Collection[str] | None) -> Path:
    """``path`` resolved, unless it lies in the saved data sets folder ``root`` but not in a data set this session may
    open (see ``saved_datasets``: a shared one, or one named in ``mine``; any, when ``mine`` is None): then
    DataLoadError. For every path a page lets a visitor type: the sidebar's folder and the Load data page's paths
    alike, so a private data set is not reached by typing its folder (or a file in it) instead of choosing it."""
    resolved = Path(path).expanduser().resolve()
    saved = Path(root).expanduser().resolve()
    if mine is None or not resolved.is_relative_to(saved):
        return resolved
    parts = resolved.relative_to(saved).parts
    if not parts:
        raise DataLoadError(f"{path} is the folder of every saved data set, private ones among them. Choose a data "
                            "set in the sidebar, or give the folder of one of them.")
    if not parts[0].startswith(".") and (parts[0] in mine or is_shared(saved / parts[0])):
        return resolved
    raise DataLoadError("That data set was loaded in another session and not shared. Load it here, or ask whoever "
                        "loaded it to share it with everyone on this server.")


def saved_report(folder: Path) -> LoadReport | None:
    """The load report saved in a data set folder, or None when it is missing or unreadable."""
    path = folder / "report.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        from explorer.loading.problems import Problem

        data["problems"] = tuple(Problem(**p) for p in data.get("problems", []))
        return LoadReport(**data)
    except (ValueError, TypeError, KeyError):
        return None

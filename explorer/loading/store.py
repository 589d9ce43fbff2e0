"""Loaded data sets are saved once, in BEIR layout (metadata kept), so every page and session can reopen them.

A saved folder holds corpus.jsonl, queries.jsonl, qrels/<split>.tsv and report.json. Its name ends with a
hash of the content, so loading the same data again reuses the folder and its embedding cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict
from pathlib import Path

from explorer.loading.assemble import LoadReport, LoadResult


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "dataset"


def save_dataset(result: LoadResult, root: Path) -> Path:
    """Saves the data set under ``root`` in BEIR layout with report.json; returns its folder.

    The folder is named after the data set and a hash of its content; when it already exists, it is kept as it is."""
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "qrels").mkdir(parents=True)
    digest = hashlib.sha256()
    dataset = result.dataset
    with (staging / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for doc in dataset.documents:
            record = {"_id": doc.doc_id, "title": doc.title, "text": doc.text, **{
                k: v for k, v in doc.metadata.items() if k not in ("_id", "title", "text")}}
            line = json.dumps(record, ensure_ascii=False) + "\n"
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
    if target.exists():
        shutil.rmtree(staging)
    else:
        os.replace(staging, target)
    return target


def saved_datasets(root: Path) -> list[Path]:
    """Saved data set folders, newest first."""
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "corpus.jsonl").is_file()]
    return sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)


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

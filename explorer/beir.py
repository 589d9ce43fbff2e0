"""Loading the BEIR folder layout: corpus.jsonl, queries.jsonl and qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Iterator

from explorer.errors import DataLoadError
from explorer.records import Dataset, Document, Qrels, Query

logger = logging.getLogger(__name__)


def load_beir(folder: str | Path, name: str | None = None) -> Dataset:
    """Read a BEIR-layout folder. Every split found under ``qrels/`` is loaded."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataLoadError(f"No folder at {root}. Give the path of a folder that holds corpus.jsonl.")
    corpus_path = root / "corpus.jsonl"
    if not corpus_path.is_file():
        raise DataLoadError(
            f"{root} has no corpus.jsonl. A BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv."
        )
    documents = tuple(_read_corpus(corpus_path))
    if not documents:
        raise DataLoadError(f"{corpus_path} holds no documents. Add one JSON object per line with _id and text.")
    queries_path = root / "queries.jsonl"
    queries = {q.query_id: q for q in _read_queries(queries_path)} if queries_path.is_file() else {}
    qrels_dir = root / "qrels"
    qrels_by_split = {p.stem: _read_qrels(p) for p in sorted(qrels_dir.glob("*.tsv"))} if qrels_dir.is_dir() else {}
    return Dataset(name=name or root.name, documents=documents, queries=queries, qrels_by_split=qrels_by_split)


def _json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataLoadError(f"{path.name} line {line_no}: not valid JSON ({exc.msg}). Fix or remove that line.") from exc
            if not isinstance(record, dict):
                raise DataLoadError(f"{path.name} line {line_no}: expected a JSON object, found {type(record).__name__}.")
            yield line_no, record


def _required_id(record: dict, path: Path, line_no: int) -> str:
    if "_id" not in record:
        raise DataLoadError(f"{path.name} line {line_no}: no \"_id\" field. Every line needs an \"_id\".")
    return str(record["_id"])


def _read_corpus(path: Path) -> Iterator[Document]:
    seen: set[str] = set()
    for line_no, record in _json_lines(path):
        doc_id = _required_id(record, path, line_no)
        if doc_id in seen:
            raise DataLoadError(f"{path.name} line {line_no}: duplicate document id {doc_id!r}. Ids must be unique.")
        seen.add(doc_id)
        yield Document(doc_id=doc_id, title=str(record.get("title") or ""), text=str(record.get("text") or ""))


def _read_queries(path: Path) -> Iterator[Query]:
    for line_no, record in _json_lines(path):
        yield Query(query_id=_required_id(record, path, line_no), text=str(record.get("text") or ""))


def _read_qrels(path: Path) -> Qrels:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (line_no == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise DataLoadError(
                    f"{path.name} line {line_no}: expected query-id, corpus-id and score separated by tabs."
                )
            try:
                grade = int(float(row[2]))
            except ValueError as exc:
                raise DataLoadError(f"{path.name} line {line_no}: score {row[2]!r} is not a number.") from exc
            qrels.setdefault(row[0], {})[row[1]] = grade
    return qrels

"""A saved data set copied out with its judgements, as one zip in BEIR layout that any BEIR reader opens.

The copy holds the folder's own files, and what was judged here: the queries typed or imported for judging
(added to queries.jsonl), the judgements made one label per pair by the data set's rule as the split
``judged-here`` (qrels/judged-here.tsv), and every rater's own grades in judgements.tsv (query, document, rater,
grade, time, note), so nothing of the raters' work is lost in the copy.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from explorer.errors import ConfigError
from explorer.judging.labels import combined
from explorer.judging.store import JudgementStore

COPY_SPLIT = "judged-here"
MAX_COPY_BYTES = 2 * 1024**3  # a folder larger than this is copied with the file system, not through a page


def dataset_copy(folder: Path, store: JudgementStore, key: str) -> bytes:
    """The zip of ``folder`` (a saved BEIR data set) with the judgements stored under ``key``."""
    folder = Path(folder)
    if not (folder / "corpus.jsonl").is_file():
        raise ConfigError(f"{folder} is not a saved data set (no corpus.jsonl); load it on the Load data page first.")
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    if size > MAX_COPY_BYTES:
        raise ConfigError(f"{folder} holds {size / 1024**3:.1f} GB; copy the folder itself, and export the "
                          "judgements with: python -m explorer judgements export --data FOLDER --out FILE")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in {"queries.jsonl", "sharing.json"} and path.suffix in {".jsonl", ".tsv", ".json"}:
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
        archive.writestr(f"{folder.name}/queries.jsonl", _queries(folder, store, key))
        judgements = store.judgements(key)
        if judgements:
            labels = combined(judgements, store.rule(key))
            archive.writestr(f"{folder.name}/qrels/{COPY_SPLIT}.tsv", _qrels_tsv(labels))
            archive.writestr(f"{folder.name}/judgements.tsv", _judgements_tsv(store, key))
    return buffer.getvalue()


def _queries(folder: Path, store: JudgementStore, key: str) -> str:
    """The folder's queries.jsonl, with the queries recorded for judging that it does not hold."""
    path = folder / "queries.jsonl"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    known = set()
    for line in text.splitlines():
        if line.strip():
            known.add(str(json.loads(line).get("_id")))
    if text and not text.endswith("\n"):
        text += "\n"
    for query_id, query in store.queries(key).items():
        if query_id not in known:
            text += json.dumps({"_id": query_id, "text": query}, ensure_ascii=False) + "\n"
    return text


def _qrels_tsv(labels: dict[str, dict[str, int]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(["query-id", "corpus-id", "score"])
    for query_id in sorted(labels):
        for doc_id, grade in sorted(labels[query_id].items()):
            writer.writerow([query_id, doc_id, grade])
    return out.getvalue()


def _judgements_tsv(store: JudgementStore, key: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(["query-id", "corpus-id", "rater", "grade", "at", "note"])
    for judgement in store.judgements(key):
        writer.writerow([judgement.query_id, judgement.doc_id, judgement.rater, judgement.grade,
                         f"{judgement.at:.3f}", judgement.note])
    return out.getvalue()

"""Snapshots: an evaluation saved under a name, to list, compare side by side and report on later.

A snapshot keeps the whole evaluation (configuration, models, every query's ranked lists and scores, the labels it
was scored with, and their version), as JSON in an SQLite file of the workspace. Its metrics are computed from
its own labels, so it reads the same after the labels change, and says which label version it used.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from explorer.errors import ConfigError
from explorer.evaluation.comparison import configuration_names
from explorer.evaluation.runner import EvalConfig, Evaluation, QueryOutcome
from explorer.sqlite_files import open_shared


@dataclass(frozen=True)
class Snapshot:
    """A saved evaluation, with when it was saved and the label version it was scored with."""

    name: str
    dataset: str
    saved_at: float
    label_version: str  # e.g. "qrels + 42 judgement changes"
    evaluation: Evaluation


@dataclass(frozen=True)
class SnapshotDiff:
    """Two or more snapshots side by side: each metric per snapshot, and per-query changes against the first."""

    names: tuple[str, ...]
    metrics: dict[str, dict[str, float]]  # metric -> snapshot name -> value (of the final stage)
    per_query: dict[str, dict[str, float]]  # snapshot name (after the first) -> query id -> change in the metric
    metric: str


def _evaluation_json(evaluation: Evaluation) -> str:
    return json.dumps({"name": evaluation.name, "config": asdict(evaluation.config),
                       "bi_encoder": evaluation.bi_encoder, "reranker": evaluation.reranker,
                       "outcomes": [asdict(outcome) for outcome in evaluation.outcomes], "qrels": evaluation.qrels,
                       "query_texts": evaluation.query_texts, "reranker_requested": evaluation.reranker_requested,
                       "unjudged": evaluation.unjudged, "cascade": evaluation.cascade,
                       "signals": evaluation.signals})


def _evaluation_from(text: str) -> Evaluation:
    raw = json.loads(text)
    outcomes = tuple(QueryOutcome.from_json(json.dumps(outcome)) for outcome in raw["outcomes"])
    return Evaluation(raw["name"], EvalConfig(**raw["config"]), raw["bi_encoder"], raw["reranker"], outcomes,
                      raw["qrels"], raw["query_texts"], reranker_requested=raw.get("reranker_requested"),
                      unjudged=raw.get("unjudged", "not relevant"), cascade=raw.get("cascade"),
                      signals=raw.get("signals"))


class SnapshotStore:
    """Named snapshots in one SQLite file; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_shared(self.path, timeout=30.0, synchronous="FULL")  # SQLite's default, as before
        self._db.execute("CREATE TABLE IF NOT EXISTS snapshots (name TEXT PRIMARY KEY, dataset TEXT NOT NULL, "
                         "saved_at REAL NOT NULL, label_version TEXT NOT NULL, evaluation TEXT NOT NULL)")

    def save(self, name: str, dataset: str, evaluation: Evaluation, label_version: str,
             replace: bool = False) -> Snapshot:
        """Saves ``evaluation`` as ``name``; a name in use is refused unless ``replace``."""
        name = " ".join(name.split())
        if not name:
            raise ConfigError("Give the snapshot a name, e.g. 'dense + default reranker, before tuning'.")
        snapshot = Snapshot(name, dataset, time.time(), label_version, evaluation)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self._lock:
            try:
                self._db.execute(f"{verb} INTO snapshots VALUES (?, ?, ?, ?, ?)",
                                 (name, dataset, snapshot.saved_at, label_version, _evaluation_json(evaluation)))
            except sqlite3.IntegrityError:
                raise ConfigError(f"A snapshot named {name!r} exists; choose another name, or replace it.") from None
        return snapshot

    def remove(self, name: str) -> None:
        """Deletes the snapshot ``name`` (nothing happens when there is none)."""
        with self._lock:
            self._db.execute("DELETE FROM snapshots WHERE name = ?", (name,))

    def names(self, dataset: str | None = None) -> list[str]:
        """Snapshot names, newest first (of one data set, or all)."""
        with self._lock:
            if dataset is None:
                rows = self._db.execute("SELECT name FROM snapshots ORDER BY saved_at DESC").fetchall()
            else:
                rows = self._db.execute("SELECT name FROM snapshots WHERE dataset = ? ORDER BY saved_at DESC",
                                        (dataset,)).fetchall()
        return [str(row[0]) for row in rows]

    def get(self, name: str) -> Snapshot:
        """The snapshot ``name``; an unknown name is an error listing the known ones."""
        with self._lock:
            row = self._db.execute("SELECT name, dataset, saved_at, label_version, evaluation FROM snapshots "
                                   "WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none yet"
            raise ConfigError(f"No snapshot named {name!r}. Saved snapshots: {known}.")
        return Snapshot(str(row[0]), str(row[1]), float(row[2]), str(row[3]), _evaluation_from(str(row[4])))


def diff(snapshots: Sequence[Snapshot], metrics: Sequence[str], metric: str, relevant_grade: int = 1) -> SnapshotDiff:
    """The final stage of each snapshot (reranked when a reranker ran) side by side, and per-query changes of
    ``metric`` from the first snapshot to each other one, over the queries both hold."""
    if len(snapshots) < 2:
        raise ConfigError("Compare at least two snapshots.")
    names = tuple(s.name for s in snapshots)
    table: dict[str, dict[str, float]] = {m: {} for m in metrics}
    finals = {}
    for snapshot in snapshots:
        stage = snapshot.evaluation.stages()[-1]
        finals[snapshot.name] = snapshot.evaluation.per_query(metric, relevant_grade)[stage]
        means = snapshot.evaluation.metrics(list(metrics), relevant_grade)[stage]
        for name in metrics:
            table[name][snapshot.name] = means[name.strip().lower()]
    base = finals[names[0]]
    per_query = {name: {q: finals[name][q] - base[q] for q in base if q in finals[name]} for name in names[1:]}
    return SnapshotDiff(names, table, per_query, metric)


def configuration_texts(evaluations: Sequence[Evaluation], every_setting: bool = False) -> list[str]:
    """Each evaluation's configuration in words: its short name (``configuration_names``), then each setting on
    which the evaluations differ (the blend, depth, bi-encoder, split, how unjudged documents count), so that two
    snapshots that differ only in their blend never read the same. ``every_setting``: each of those settings,
    whether it differs or not (for one snapshot on its own)."""
    names = configuration_names(evaluations).short
    settings = [_settings(evaluation) for evaluation in evaluations]
    differing = [field for field in _SETTING_NAMES
                 if every_setting or len({described.get(field) for described in settings}) > 1]
    return [" · ".join([name, *(described[field] for field in differing if field in described)])
            for name, described in zip(names, settings)]


_SETTING_NAMES = ("blend", "depth", "bi-encoder", "split", "unjudged")


def _settings(evaluation: Evaluation) -> dict[str, str]:
    """The settings of ``evaluation`` that tell one configuration from another, in words."""
    config = evaluation.config
    described = {"depth": f"depth {config.depth}", "split": f"split '{config.split}'",
                 "unjudged": f"unjudged {evaluation.unjudged}"}
    if evaluation.has_reranker:
        described["blend"] = "reranker alone" if config.blend >= 1.0 else f"blend {config.blend:g} (reranker weight)"
    if config.first_stage_method != "bm25":
        described["bi-encoder"] = f"bi-encoder {evaluation.bi_encoder}"
    return described

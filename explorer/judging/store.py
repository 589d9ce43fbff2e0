"""Judgements kept safely: one SQLite file in the workspace, one row per (data set, query, document, rater).

Each grade is written the moment it is given, in its own transaction, in WAL mode with full sync: a server
killed in the middle of a judging loop loses at most the grade being written, and two raters in two sessions
(or two processes) never overwrite each other, since each row is a rater's own. A rater who grades the same
document again replaces only their own row. A typed query gets a stable id the first time it is judged.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from explorer.errors import ConfigError
from explorer.sqlite_files import open_shared

Scale = Literal["graded", "binary"]
SCALES: dict[str, tuple[int, ...]] = {"graded": (0, 1, 2, 3), "binary": (0, 1)}
SCALE_NAMES = {"graded": "0-3 (0 not relevant, 1 related, 2 relevant, 3 the answer)",
               "binary": "0-1 (0 not relevant, 1 relevant)"}
Rule = Literal["mean", "majority", "strictest"]
RULES: dict[str, str] = {
    "mean": "the mean of the grades, rounded half up",
    "majority": "the grade most raters gave (a tie goes to the lower grade)",
    "strictest": "the lowest grade any rater gave",
}
TYPED_PREFIX = "typed-"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS judgements (dataset TEXT NOT NULL, query_id TEXT NOT NULL, doc_id TEXT NOT NULL, "
    "rater TEXT NOT NULL, grade INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '', at REAL NOT NULL, "
    "PRIMARY KEY (dataset, query_id, doc_id, rater))",
    "CREATE TABLE IF NOT EXISTS queries (dataset TEXT NOT NULL, query_id TEXT NOT NULL, text TEXT NOT NULL, "
    "at REAL NOT NULL, PRIMARY KEY (dataset, query_id))",
    "CREATE TABLE IF NOT EXISTS datasets (dataset TEXT PRIMARY KEY, scale TEXT NOT NULL, "
    "guidelines TEXT NOT NULL DEFAULT '')",
    # every write bumps the data set's label version, so a snapshot can say which labels it used
    "CREATE TABLE IF NOT EXISTS versions (dataset TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    # the rule that makes several raters' grades one label, per data set (mean when not set)
    "CREATE TABLE IF NOT EXISTS rules (dataset TEXT PRIMARY KEY, rule TEXT NOT NULL)",
)

_ADD_QUERY = "INSERT OR IGNORE INTO queries (dataset, query_id, text, at) VALUES (?, ?, ?, ?)"
_UPSERT = ("INSERT INTO judgements (dataset, query_id, doc_id, rater, grade, note, at) VALUES (?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT(dataset, query_id, doc_id, rater) DO UPDATE SET grade = excluded.grade, "
           "note = excluded.note, at = excluded.at")


@dataclass(frozen=True)
class Judgement:
    """One rater's grade of one document for one query."""

    query_id: str
    doc_id: str
    rater: str
    grade: int
    note: str = ""
    at: float = 0.0  # seconds since the epoch, when it was saved


def typed_query_id(text: str) -> str:
    """A stable id for a typed query: the same text (up to spacing and case) always gets the same id."""
    normal = " ".join(text.split()).lower()
    return TYPED_PREFIX + hashlib.sha256(normal.encode("utf-8")).hexdigest()[:12]


class JudgementStore:
    """The judgements of every data set in one SQLite file; thread-safe (one connection, used under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_shared(self.path, timeout=30.0, synchronous="FULL")  # a grade acknowledged is on disk
        for statement in _SCHEMA:
            self._db.execute(statement)

    # ---- the scale and guidelines of a data set -----------------------------------------------------------

    def scale(self, dataset: str) -> Scale:
        """The data set's grading scale ("graded" 0-3 unless set to "binary")."""
        row = self._one("SELECT scale FROM datasets WHERE dataset = ?", (dataset,))
        return "binary" if row and row[0] == "binary" else "graded"

    def guidelines(self, dataset: str) -> str:
        """The data set's judging guidelines (markdown), "" when none were written."""
        row = self._one("SELECT guidelines FROM datasets WHERE dataset = ?", (dataset,))
        return str(row[0]) if row else ""

    def set_scale(self, dataset: str, scale: Scale) -> None:
        """Sets the grading scale; refused when grades already given do not fit it."""
        if scale not in SCALES:
            raise ConfigError(f"Unknown scale {scale!r}; choose one of: {', '.join(SCALES)}.")
        top = self._one("SELECT MAX(grade) FROM judgements WHERE dataset = ?", (dataset,))
        if top and top[0] is not None and top[0] > max(SCALES[scale]):
            raise ConfigError(f"This data set already has grades up to {top[0]}, which the {scale} scale cannot "
                              "hold. Keep the graded scale, or export the judgements and start again.")
        self._write("INSERT INTO datasets (dataset, scale) VALUES (?, ?) "
                    "ON CONFLICT(dataset) DO UPDATE SET scale = excluded.scale", (dataset, scale))

    def set_guidelines(self, dataset: str, text: str) -> None:
        """Saves the data set's judging guidelines (markdown)."""
        self._write("INSERT INTO datasets (dataset, scale, guidelines) VALUES (?, 'graded', ?) "
                    "ON CONFLICT(dataset) DO UPDATE SET guidelines = excluded.guidelines", (dataset, text))

    def rule(self, dataset: str) -> Rule:
        """The rule that turns several raters' grades into one label for this data set (see RULES)."""
        row = self._one("SELECT rule FROM rules WHERE dataset = ?", (dataset,))
        return row[0] if row and row[0] in RULES else "mean"  # type: ignore[return-value]

    def set_rule(self, dataset: str, rule: Rule) -> None:
        """Sets the data set's rule; the labels change with it, so the label version grows."""
        if rule not in RULES:
            raise ConfigError(f"Unknown rule {rule!r}; choose one of: {', '.join(RULES)}.")
        sql = "INSERT INTO rules (dataset, rule) VALUES (?, ?) ON CONFLICT(dataset) DO UPDATE SET rule = excluded.rule"
        self._write_many([(sql, (dataset, rule))])

    # ---- queries -------------------------------------------------------------------------------------------

    def add_query(self, dataset: str, text: str, query_id: str | None = None) -> str:
        """Records a query of the data set (a typed one gets ``typed_query_id``); returns its id."""
        text = " ".join(text.split())
        if not text:
            raise ConfigError("The query is empty; type the question to judge results for.")
        query_id = query_id or typed_query_id(text)
        self._write(_ADD_QUERY, (dataset, query_id, text, time.time()))
        return query_id

    def add_queries(self, dataset: str, texts: list[str]) -> list[str]:
        """Records several queries in one transaction (an imported query set); returns their ids, in order."""
        rows = [(dataset, typed_query_id(text), " ".join(text.split()), time.time()) for text in texts if text.strip()]
        if rows:  # queries are no labels: the label version stays
            self._write_many([(_ADD_QUERY, row) for row in rows], new_version=False)
        return [row[1] for row in rows]

    def queries(self, dataset: str) -> dict[str, str]:
        """Query id -> text of the queries recorded for the data set (typed or imported), oldest first."""
        rows = self._all("SELECT query_id, text FROM queries WHERE dataset = ? ORDER BY at, query_id", (dataset,))
        return {str(query_id): str(text) for query_id, text in rows}

    # ---- judgements ----------------------------------------------------------------------------------------

    def put(self, dataset: str, judgement: Judgement) -> Judgement:
        """Saves one grade at once (replacing only this rater's earlier grade of this pair); returns it as saved.
        A grade outside the data set's scale is refused with a message."""
        return self.put_many(dataset, [judgement])[0]

    def put_many(self, dataset: str, judgements: list[Judgement]) -> list[Judgement]:
        """Saves several grades in one transaction (an import): all of them, or, if one is refused, none."""
        scale = self.scale(dataset)
        now = time.time()
        saved = [self.checked(judgement, scale, now) for judgement in judgements]
        if saved:
            self._write_many([(_UPSERT, (dataset, j.query_id, j.doc_id, j.rater, j.grade, j.note, j.at))
                              for j in saved])
        return saved

    @staticmethod
    def checked(judgement: Judgement, scale: Scale, now: float) -> Judgement:
        """``judgement`` as it would be saved at ``now``; a grade off the scale or a missing name is refused."""
        grade = judgement.grade
        if isinstance(grade, bool) or not isinstance(grade, int) or grade not in SCALES[scale]:
            raise ConfigError(f"Grade {grade!r} is outside this data set's scale, {SCALE_NAMES[scale]}.")
        if not judgement.rater.strip():
            raise ConfigError("Judgements need a rater name: type yours in the sidebar.")
        if not judgement.query_id or not judgement.doc_id:
            raise ConfigError("A judgement needs a query id and a document id.")
        return Judgement(judgement.query_id, judgement.doc_id, judgement.rater.strip(), grade, judgement.note, now)

    def remove(self, dataset: str, query_id: str, doc_id: str, rater: str) -> None:
        """Takes back this rater's grade of the pair (the page's "back" then regrades it)."""
        self._write_many([("DELETE FROM judgements WHERE dataset = ? AND query_id = ? AND doc_id = ? AND rater = ?",
                           (dataset, query_id, doc_id, rater))])

    def judgements(self, dataset: str, query_id: str | None = None, rater: str | None = None) -> list[Judgement]:
        """The data set's judgements, optionally of one query or one rater, oldest first."""
        sql = "SELECT query_id, doc_id, rater, grade, note, at FROM judgements WHERE dataset = ?"
        args: list[object] = [dataset]
        if query_id is not None:
            sql, args = sql + " AND query_id = ?", [*args, query_id]
        if rater is not None:
            sql, args = sql + " AND rater = ?", [*args, rater]
        rows = self._all(sql + " ORDER BY at, query_id, doc_id, rater", tuple(args))
        return [Judgement(str(q), str(d), str(r), int(g), str(n), float(a)) for q, d, r, g, n, a in rows]

    def raters(self, dataset: str) -> list[str]:
        """Everyone who has judged in this data set, by name."""
        return [str(row[0]) for row in self._all("SELECT DISTINCT rater FROM judgements WHERE dataset = ? "
                                                 "ORDER BY rater", (dataset,))]

    def version(self, dataset: str) -> int:
        """The data set's label version: it grows with every grade saved or taken back (0: none yet)."""
        row = self._one("SELECT version FROM versions WHERE dataset = ?", (dataset,))
        return int(row[0]) if row else 0

    def count(self, dataset: str | None = None) -> int:
        """Rows stored (of one data set, or of all)."""
        if dataset is None:
            row = self._one("SELECT COUNT(*) FROM judgements", ())
        else:
            row = self._one("SELECT COUNT(*) FROM judgements WHERE dataset = ?", (dataset,))
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Closes the file (every write is already on disk)."""
        with self._lock:
            self._db.close()

    # ---- SQL -----------------------------------------------------------------------------------------------

    def _one(self, sql: str, args: tuple[object, ...]) -> tuple[object, ...] | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def _write_many(self, statements: list[tuple[str, tuple[object, ...]]], new_version: bool = True) -> None:
        """The statements (and, when the labels change, the version bump) in one transaction: all of them are on
        disk, or none."""
        dataset = statements[0][1][0]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
                if new_version:
                    self._db.execute("INSERT INTO versions (dataset, version) VALUES (?, 1) "
                                     "ON CONFLICT(dataset) DO UPDATE SET version = version + 1", (dataset,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

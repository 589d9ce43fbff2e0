"""Judgements kept safely: one SQLite file in the workspace, one row per (data set, query, document, rater).

Each grade is written the moment it is given, in its own transaction, in WAL mode with full sync: a server
killed in the middle of a judging loop loses at most the grade being written, and two raters in two sessions
(or two processes) never overwrite each other, since each row is a rater's own. A rater who grades the same
document again replaces only their own row. A typed query gets a stable id the first time it is judged.

Judgements are not a cache: a damaged file (cut short, or overwritten) is never deleted. Opening it sets it aside
under a new name, reads back every row that still reads, and writes those to a fresh file, saying how many grades
came back (``JudgementStore.recovery``, and a warning in the log).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Sequence

from explorer.errors import ConfigError, DamagedFileError
from explorer.sqlite_files import check_intact, is_damage, open_shared, readable_rows, set_aside

logger = logging.getLogger(__name__)

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
# an AI judge's rater name: "ai:" and its model. Its grades are kept apart: they count as labels only once the user
# chooses so (``JudgementStore.set_counted``), and no person may judge under such a name.
AI_PREFIX = "ai:"
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
# the AI raters whose grades the user chose to count as labels, per data set: made the first time one is counted,
# so that the file of a workspace that never counts one keeps its layout
_COUNTED_SCHEMA = ("CREATE TABLE IF NOT EXISTS counted_raters (dataset TEXT NOT NULL, rater TEXT NOT NULL, "
                   "PRIMARY KEY (dataset, rater))")
_MADE_WHEN_USED = {"counted_raters": _COUNTED_SCHEMA}

# each table's columns, and what a recovered row must hold to be kept (a damaged page can read as other values)
_COLUMNS: dict[str, tuple[tuple[str, tuple[type, ...]], ...]] = {
    "judgements": (("dataset", (str,)), ("query_id", (str,)), ("doc_id", (str,)), ("rater", (str,)),
                   ("grade", (int,)), ("note", (str,)), ("at", (float, int))),
    "queries": (("dataset", (str,)), ("query_id", (str,)), ("text", (str,)), ("at", (float, int))),
    "datasets": (("dataset", (str,)), ("scale", (str,)), ("guidelines", (str,))),
    "versions": (("dataset", (str,)), ("version", (int,))),
    "rules": (("dataset", (str,)), ("rule", (str,))),
    "counted_raters": (("dataset", (str,)), ("rater", (str,))),
}
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


@dataclass(frozen=True)
class Recovery:
    """What became of a damaged judgements file: where it was kept, and the rows read back from it."""

    path: Path  # the judgements file, now fresh
    aside: Path  # the damaged file, renamed and kept
    reason: str  # what SQLite said of it
    grades: int  # grades read back and written to the fresh file
    queries: int  # recorded queries read back

    @property
    def message(self) -> str:
        """The recovery in words, for the page and the log."""
        return (f"The judgements file {self.path} was damaged ({self.reason}). It was kept as {self.aside} (never "
                f"deleted), and the {self.grades:,} grade(s) and {self.queries:,} recorded query(ies) that could "
                "still be read were recovered into a fresh file. Grades on the lost part of the file could not be "
                "read: import them again from an export (judgements import) if you have one.")


def is_ai_rater(rater: str) -> bool:
    """Whether ``rater`` names an AI judge ("ai:MODEL")."""
    return rater.startswith(AI_PREFIX)


def typed_query_id(text: str) -> str:
    """A stable id for a typed query: the same text (up to spacing and case) always gets the same id."""
    normal = " ".join(text.split()).lower()
    return TYPED_PREFIX + hashlib.sha256(normal.encode("utf-8")).hexdigest()[:12]


class JudgementStore:
    """The judgements of every data set in one SQLite file; thread-safe (one connection, used under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.recovery: Recovery | None = None  # set when the file was found damaged and recovered
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            self.recovery = self._recover(str(exc))
            if self.recovery is not None:
                logger.warning("%s", self.recovery.message)

    def _open(self) -> sqlite3.Connection:
        """The file opened, its tables made if missing, and checked whole (it is small, and read by every page)."""
        connection = open_shared(self.path, timeout=30.0, synchronous="FULL")  # a grade acknowledged is on disk
        try:
            for statement in _SCHEMA:
                connection.execute(statement)
            check_intact(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _recover(self, reason: str) -> Recovery | None:
        """Sets the damaged file aside, opens a fresh one and writes into it every row that still reads from the old
        one (rows written meanwhile by another process are kept: theirs are newer). None when another process had
        set the file aside first; DamagedFileError when it cannot be set aside."""
        try:
            aside = set_aside(self.path)
        except FileNotFoundError:  # another process is recovering it: use the fresh file it made
            self._db = self._open()
            return None
        except OSError as exc:
            raise DamagedFileError(
                f"The judgements file {self.path} is damaged ({reason}) and could not be set aside to recover it "
                f"({exc.strerror or exc}). Make its folder writable, or move the file away yourself, and start "
                "again: the grades that still read are then recovered from it.") from None
        self._db = self._open()
        counts = {}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table, columns in _COLUMNS.items():
                    rows = [row for row in readable_rows(aside, table, [name for name, _ in columns])
                            if all(isinstance(value, kinds) and not isinstance(value, bool)
                                   for value, (_, kinds) in zip(row, columns))]
                    counts[table] = len(rows)
                    if not rows:
                        continue
                    if table in _MADE_WHEN_USED:
                        self._db.execute(_MADE_WHEN_USED[table])
                    marks = ", ".join("?" * len(columns))
                    names = ", ".join(name for name, _ in columns)
                    self._db.executemany(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})", rows)
                # the labels are not those a snapshot saw before the damage: every data set's version moves on
                self._db.execute("INSERT INTO versions (dataset, version) SELECT dataset, 1 FROM (SELECT dataset FROM "
                                 "judgements UNION SELECT dataset FROM versions) WHERE true "
                                 "ON CONFLICT(dataset) DO UPDATE SET version = version + 1")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Recovery(self.path, aside, reason, counts["judgements"], counts["queries"])

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
        # only binary can be too narrow: "graded" is the data set's own scale (explorer.judging.scale), which the
        # grades saved were checked against
        if scale == "binary" and top and top[0] is not None and top[0] > max(SCALES[scale]):
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

    def put(self, dataset: str, judgement: Judgement, grades: Sequence[int] | None = None) -> Judgement:
        """Saves one grade at once (replacing only this rater's earlier grade of this pair); returns it as saved.
        A grade outside the data set's scale (``grades``, the grades its labels allow, else the stored scale's) is
        refused with a message."""
        return self.put_many(dataset, [judgement], grades)[0]

    def put_many(self, dataset: str, judgements: list[Judgement], grades: Sequence[int] | None = None,
                 ai: bool = False) -> list[Judgement]:
        """Saves several grades in one transaction (an import): all of them, or, if one is refused, none. Only the
        AI judge (``ai``) saves under an "ai:" name; the label version grows where the grades count as labels."""
        scale = self.scale(dataset)
        now = time.time()
        saved = [self.checked(judgement, scale, now, grades) for judgement in judgements]
        if not ai and any(is_ai_rater(j.rater) for j in saved):
            raise ConfigError(f"Rater names starting with {AI_PREFIX!r} are kept for the AI judge; choose another.")
        if saved:
            counted = self.counted_ai(dataset)
            self._write_many([(_UPSERT, (dataset, j.query_id, j.doc_id, j.rater, j.grade, j.note, j.at))
                              for j in saved],
                             new_version=any(not is_ai_rater(j.rater) or j.rater in counted for j in saved))
        return saved

    def counted_ai(self, dataset: str) -> set[str]:
        """The AI raters whose grades count as labels in this data set (chosen by the user; none by default)."""
        if not self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'counted_raters'", ()):
            return set()
        return {str(row[0]) for row in self._all("SELECT rater FROM counted_raters WHERE dataset = ?", (dataset,))}

    def set_counted(self, dataset: str, rater: str, counted: bool) -> None:
        """Counts the AI rater's grades as labels of this data set, or stops counting them; the labels change,
        so the label version grows."""
        if not is_ai_rater(rater):
            raise ConfigError(f"{rater!r} is not an AI judge: a person's grades always count.")
        self._write(_COUNTED_SCHEMA, ())
        if counted:
            sql = "INSERT OR IGNORE INTO counted_raters (dataset, rater) VALUES (?, ?)"
        else:
            sql = "DELETE FROM counted_raters WHERE dataset = ? AND rater = ?"
        self._write_many([(sql, (dataset, rater))])

    def ai_raters(self, dataset: str) -> dict[str, int]:
        """Every AI rater of the data set, with the number of grades it gave."""
        rows = self._all("SELECT rater, COUNT(*) FROM judgements WHERE dataset = ? AND rater LIKE 'ai:%' "
                         "GROUP BY rater ORDER BY rater", (dataset,))
        return {str(rater): int(count) for rater, count in rows}

    @staticmethod
    def checked(judgement: Judgement, scale: Scale, now: float, grades: Sequence[int] | None = None) -> Judgement:
        """``judgement`` as it would be saved at ``now``; a grade off the scale (``grades`` when given: a data set's
        own, see ``explorer.judging.scale``) or a missing name is refused."""
        grade = judgement.grade
        allowed = SCALES["binary"] if scale == "binary" else tuple(grades) if grades else SCALES[scale]
        if isinstance(grade, bool) or not isinstance(grade, int) or grade not in allowed:
            named = SCALE_NAMES[scale] if scale == "binary" or not grades else f"{min(allowed)}-{max(allowed)}"
            raise ConfigError(f"Grade {grade!r} is outside this data set's scale, {named}.")
        if not judgement.rater.strip():
            raise ConfigError("Judgements need a rater name: type yours in the sidebar.")
        if not judgement.query_id or not judgement.doc_id:
            raise ConfigError("A judgement needs a query id and a document id.")
        return Judgement(judgement.query_id, judgement.doc_id, judgement.rater.strip(), grade, judgement.note, now)

    def remove(self, dataset: str, query_id: str, doc_id: str, rater: str) -> None:
        """Takes back this rater's grade of the pair (the page's "back" then regrades it)."""
        self._write_many([("DELETE FROM judgements WHERE dataset = ? AND query_id = ? AND doc_id = ? AND rater = ?",
                           (dataset, query_id, doc_id, rater))])

    def judgements(self, dataset: str, query_id: str | None = None, rater: str | None = None,
                   with_ai: bool = False) -> list[Judgement]:
        """The data set's judgements that count as labels (people's, and AI raters' the user chose to count; every
        AI rater's too ``with_ai``), optionally of one query or one rater (any rater named), oldest first."""
        sql = "SELECT query_id, doc_id, rater, grade, note, at FROM judgements WHERE dataset = ?"
        args: list[object] = [dataset]
        if query_id is not None:
            sql, args = sql + " AND query_id = ?", [*args, query_id]
        if rater is not None:
            sql, args = sql + " AND rater = ?", [*args, rater]
        rows = self._all(sql + " ORDER BY at, query_id, doc_id, rater", tuple(args))
        found = [Judgement(str(q), str(d), str(r), int(g), str(n), float(a)) for q, d, r, g, n, a in rows]
        if with_ai or rater is not None or not any(is_ai_rater(j.rater) for j in found):
            return found
        counted = self.counted_ai(dataset)
        return [j for j in found if not is_ai_rater(j.rater) or j.rater in counted]

    def raters(self, dataset: str, with_ai: bool = False) -> list[str]:
        """Everyone whose grades count as labels in this data set (every AI rater too ``with_ai``), by name."""
        names = [str(row[0]) for row in self._all("SELECT DISTINCT rater FROM judgements WHERE dataset = ? "
                                                  "ORDER BY rater", (dataset,))]
        counted = set() if with_ai else self.counted_ai(dataset)
        return [name for name in names if with_ai or not is_ai_rater(name) or name in counted]

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
        with self._lock, self._damage_said():
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._lock, self._damage_said():
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock, self._damage_said():
            self._db.execute(sql, args)

    @contextlib.contextmanager
    def _damage_said(self) -> Iterator[None]:
        """Damage found after the file was opened (it was checked whole then) becomes a message, not a traceback."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            raise DamagedFileError(
                f"The judgements file {self.path} was damaged while in use ({exc}). Nothing more is written to it. "
                "Restart the app (or run the command again): the file is then kept aside and every grade that "
                "still reads is recovered into a fresh one.") from None

    def _write_many(self, statements: list[tuple[str, tuple[object, ...]]], new_version: bool = True) -> None:
        """The statements (and, when the labels change, the version bump) in one transaction: all of them are on
        disk, or none."""
        dataset = statements[0][1][0]
        with self._lock, self._damage_said():
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

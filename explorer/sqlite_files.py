"""The one way the engine opens an SQLite file it keeps (scores, judgements, snapshots), and what it does with one
that is damaged (cut short by a full disk or a copy that stopped, or overwritten): tell damage from a busy file,
set the file aside without deleting it, and read back the rows that still read."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Sequence

logger = logging.getLogger(__name__)

# SQLite's primary result codes for a damaged file: SQLITE_CORRUPT ("database disk image is malformed") and
# SQLITE_NOTADB ("file is not a database")
_DAMAGE_CODES = (11, 26)
_DAMAGE_WORDS = ("malformed", "not a database")
COMPANIONS = ("-wal", "-shm")  # the files SQLite keeps beside a database in WAL mode


def open_shared(path: Path, timeout: float, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A connection to ``path`` (its folder made if missing) that threads may share under the caller's lock and
    that autocommits unless a transaction is begun; WAL mode, so other processes read while one writes.
    ``synchronous``: "NORMAL" (a crash may lose the last commits) or "FULL" (a commit is on disk when it returns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False, isolation_level=None)
    _wal(connection, timeout)
    connection.execute(f"PRAGMA synchronous={synchronous}")
    return connection


def _wal(connection: sqlite3.Connection, timeout: float) -> None:
    """Switches to WAL. Two processes opening a new file at once can find it locked while the other switches, and
    SQLite does not wait on its busy timeout for this: seen as "database is locked" with the app and the command line
    (or two writers) starting together. Retried until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` says an SQLite file is damaged (malformed, or not a database), rather than busy or locked."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _DAMAGE_CODES
    return any(word in str(exc) for word in _DAMAGE_WORDS)


def check_intact(connection: sqlite3.Connection) -> None:
    """Raises sqlite3.DatabaseError when SQLite's quick check finds the file open in ``connection`` damaged. It reads
    every page once: for files that stay small (judgements), where a damage found later would fail a page."""
    problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall() if row[0] != "ok"]
    if problems:
        raise sqlite3.DatabaseError(f"database disk image is malformed ({problems[0][:200]})")


def set_aside(path: Path) -> Path:
    """Renames the damaged file ``path``, with its -wal and -shm, to ``path.damaged-YYYYMMDD-HHMMSS`` (with a number
    when that is taken) beside it, and returns the new name. Nothing is deleted: the -wal may hold the last writes.
    FileNotFoundError when ``path`` is gone (another process set it aside first)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
    path.rename(aside)
    for suffix in COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(aside.with_name(aside.name + suffix))
    return aside


def readable_rows(path: Path, table: str, columns: Sequence[str]) -> list[tuple]:
    """The rows of ``table`` (these ``columns``, in rowid order) that still read from the damaged SQLite file at
    ``path``, which is not changed: a copy is read.

    SQLite refuses a file shorter than its header says unless ``writable_schema`` is on; then it reads the pages
    there are. A scan stops at the first page that is lost, so after one it looks further on (rowids at growing
    distances, then halving back) for the next rowid that reads, and goes on from there. Rows whose pages are lost,
    or hang below a lost page, cannot be read; a file whose first page is lost reads nothing."""
    with tempfile.TemporaryDirectory(prefix="explorer-recover-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")  # writes not yet in the file itself (the -shm is rebuilt from it)
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        try:
            connection = sqlite3.connect(str(copy))
        except sqlite3.DatabaseError as exc:
            logger.warning("%s cannot be opened to recover rows: %s", path, exc)
            return []
        try:
            connection.execute("PRAGMA writable_schema=ON")
            return _scan(connection, table, columns)
        except sqlite3.OperationalError as exc:
            if not str(exc).startswith("no such table"):
                raise
            return []  # a file written before the table was made (or that never needed it) has none of its rows
        except sqlite3.DatabaseError as exc:  # the schema itself is lost
            if not is_damage(exc):
                raise
            logger.warning("no rows of %s could be read from %s: %s", table, path, exc)
            return []
        finally:
            connection.close()


def _scan(connection: sqlite3.Connection, table: str, columns: Sequence[str]) -> list[tuple]:
    select = f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY rowid"
    rows: list[tuple] = []
    after = passed = 0  # SQLite numbers rows from 1 (a row 0 read back comes from a damaged page)
    while True:
        try:
            for row in connection.execute(select, (after,)):
                if row[0] <= after:  # out of order: read from a damaged page, not a row
                    continue
                rows.append(tuple(row[1:]))
                after = row[0]
            return rows
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
        # the page after ``after`` is lost (``passed``: a resumed scan that failed at once moves on all the same)
        resumed = _next_readable_rowid(connection, table, max(after, passed))
        if resumed is None:
            return rows
        after, passed = resumed - 1, resumed


def _next_readable_rowid(connection: sqlite3.Connection, table: str, failed: int) -> int | None:
    """The first rowid above ``failed`` (whose page is lost) that a seek reaches, or None when none is found."""
    def seek(rowid: int) -> tuple[bool, int | None]:
        try:
            row = connection.execute(f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                                     (rowid,)).fetchone()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            return False, None
        return True, (row[0] if row else None)

    low, step = failed, 1
    while failed + step < 2 ** 63:
        reached, found = seek(failed + step)
        if not reached:
            low, step = failed + step, step * 2
            continue
        high = failed + step
        while high - low > 1:  # the lost page may end below ``high``: look for its end
            middle = (low + high) // 2
            reached, first = seek(middle)
            if reached:
                high, found = middle, first
            else:
                low = middle
        return found
    return None

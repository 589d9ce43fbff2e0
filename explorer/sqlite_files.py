"""The one way the engine opens an SQLite file it keeps (scores, judgements, snapshots)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


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

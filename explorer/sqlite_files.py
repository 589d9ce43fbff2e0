"""The one way the engine opens an SQLite file it keeps (scores, judgements, snapshots)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_shared(path: Path, timeout: float, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A connection to ``path`` (its folder made if missing) that threads may share under the caller's lock and
    that autocommits unless a transaction is begun; WAL mode, so other processes read while one writes.
    ``synchronous``: "NORMAL" (a crash may lose the last commits) or "FULL" (a commit is on disk when it returns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    return connection


"""Reranker scores kept on disk, so they outlive the process: an SQLite file beside the other caches.

The keys are the in-memory cache's (``explorer.rerank.score_cache.pair_key``: a digest of the model key, the
query and the text), so the file holds no document or query text, and rows are plain numbers (no pickle).
It is bounded: past ``max_rows`` the least recently used rows go. Several processes may share the file (the
app and the command line): SQLite's WAL mode lets them read while one writes, and a write that finds the file
busy is skipped with a log line rather than failing a search.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Sequence, Tuple

from explorer.sqlite_files import open_shared

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 2_000_000  # about 120 MB on disk
CachedScore = Tuple[float, bool]
_CHUNK = 500  # keys per query, under SQLite's limit of bound parameters


class ScoreStore:
    """Scores by pair key in an SQLite file; thread-safe (one connection, used under a lock)."""

    def __init__(self, path: Path, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._db = open_shared(self.path, timeout=5.0)
        self._db.execute("CREATE TABLE IF NOT EXISTS scores (key BLOB PRIMARY KEY, score REAL NOT NULL, "
                         "truncated INTEGER NOT NULL, used REAL NOT NULL) WITHOUT ROWID")
        self._db.execute("CREATE INDEX IF NOT EXISTS scores_used ON scores (used)")
        self._rows = len(self)  # an upper bound between exact counts (a replaced row is counted twice)

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, CachedScore]:
        """The stored (score, truncated) of each key that has one."""
        found: dict[bytes, CachedScore] = {}
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start:start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                try:
                    rows = self._db.execute(f"SELECT key, score, truncated FROM scores WHERE key IN ({marks})",
                                            chunk).fetchall()
                except sqlite3.DatabaseError as exc:  # busy or locked by another process, or damaged: a miss
                    logger.warning("score store %s not read: %s", self.path, exc)
                    return found
                found.update({key: (float(score), bool(truncated)) for key, score, truncated in rows})
        return found

    def put_many(self, keys: Sequence[bytes], scores: Sequence[CachedScore]) -> None:
        """Stores the scores, marked as just used; the oldest rows go when the store is over its bound."""
        now = time.time()
        rows = [(key, float(score), int(bool(cut)), now) for key, (score, cut) in zip(keys, scores)]
        if not rows:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO scores (key, score, truncated, used) VALUES (?, ?, ?, ?)",
                                     rows)
                self._rows += len(rows)
                if self._rows > self.max_rows:  # count exactly only when the bound may be passed
                    self._rows = self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
                    over = self._rows - self.max_rows
                    if over > 0:
                        self._db.execute("DELETE FROM scores WHERE key IN "
                                         "(SELECT key FROM scores ORDER BY used LIMIT ?)", (over,))
                        self._rows -= over
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:  # busy, locked or damaged: the scores are not kept, the search goes on
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                logger.warning("score store %s not written: %s", self.path, exc)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])

    def close(self) -> None:
        """Closes the file (the store cannot be used after)."""
        with self._lock:
            self._db.close()

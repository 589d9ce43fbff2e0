"""Answers of chat models kept in one SQLite file, by (model and endpoint, prompt version, query, document): a
run stopped half way (a kill, a closed page, a failure) resumes where it stopped, and a repeated run asks nothing.

Each answer is written the moment it arrives, in its own transaction (WAL mode, full sync). The key is a hash of
the texts, so the same query and document in another data set is the same answer. Only what the model said is
kept (grade, reason, order, tokens, seconds), never the request's headers. A damaged file is a cache: it is set
aside and a fresh one started.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from explorer.sqlite_files import is_damage, open_shared, set_aside

logger = logging.getLogger(__name__)

FILE_NAME = "llm_answers.sqlite"
_SCHEMA = ("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT NOT NULL, prompt TEXT NOT NULL, "
           "answer TEXT NOT NULL, at REAL NOT NULL)")


def answer_key(model: str, prompt_version: str, query: str, document: str) -> str:
    """The cache key of one answer: a hash of the model (with its endpoint), the prompt version and the texts."""
    text = "\x00".join((model, prompt_version, query, document))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AnswerCache:
    """Chat answers by key (see ``answer_key``); thread-safe (one connection, used under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            aside = set_aside(self.path)
            logger.warning("the answer cache %s was damaged (%s); kept as %s and started afresh", self.path, exc,
                           aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        connection = open_shared(self.path, timeout=30.0, synchronous="FULL")
        connection.execute(_SCHEMA)
        return connection

    def get(self, key: str) -> dict[str, Any] | None:
        """The answer kept under ``key``, or None."""
        with self._lock:
            row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def has(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` have an answer."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found |= {row[0] for row in self._db.execute(f"SELECT key FROM answers WHERE key IN ({marks})",
                                                             chunk)}
        return found

    def put(self, key: str, model: str, prompt_version: str, answer: dict[str, Any]) -> None:
        """Keeps ``answer`` under ``key`` (on disk when this returns)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers (key, model, prompt, answer, at) VALUES (?, ?, ?, ?, ?)",
                             (key, model, prompt_version, json.dumps(answer), time.time()))

    def count(self) -> int:
        """Answers kept."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Closes the file."""
        with self._lock:
            self._db.close()

"""Reranker scores already computed: (model, query, document text) -> score, in memory, bounded (LRU).

Changing the depth, moving the threshold, rerunning a query or comparing configurations asks for the same
pairs again; they are answered from here without running the model. Keys are digests of the model key, the
query and the text, so the cache holds no document text. The model key names the model's weights and the
way it ran (backend, precision, token limit): the same pair scored another way is another entry.

With a ``store`` (``explorer.rerank.score_store``), scores also go to disk and are read back from there when
memory does not have them: a restarted app or a second command answers pairs scored before without the model.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Tuple

from explorer.errors import ConfigError
from explorer.rerank.score_store import ScoreStore
from explorer.sqlite_files import is_damage, set_aside

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 200_000  # about 50 MB (2,000 queries of 100 candidates)

# (score, truncated): the raw score, and whether the pair reached the model's token limit
CachedScore = Tuple[float, bool]


@dataclass(frozen=True)
class CacheStats:
    """Hits and misses since the cache was made or cleared, and its size and capacity in scores."""

    hits: int
    misses: int
    size: int
    capacity: int


def pair_key(model_key: str, query: str, text: str) -> bytes:
    """The 16-byte key of one (model key, query, text) pair."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (model_key, query, text):
        encoded = part.encode("utf-8")
        # length-prefixed, so ("ab", "c") and ("a", "bc") differ
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.digest()


class ScoreCache:
    """Thread-safe: one cache serves every browser session of the app."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, store: ScoreStore | None = None) -> None:
        if capacity < 1:
            raise ConfigError(f"The score cache needs room for at least one score, got capacity {capacity}.")
        self.capacity = capacity
        self.store = store
        self._scores: OrderedDict[bytes, CachedScore] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get_many(self, model_key: str, query: str, texts: Sequence[str]) -> list[CachedScore | None]:
        """The cached (score, truncated) of each text, or None where there is none."""
        keys = [pair_key(model_key, query, text) for text in texts]
        with self._lock:
            found: list[CachedScore | None] = [self._scores.get(key) for key in keys]
        missing = [key for key, score in zip(keys, found) if score is None]
        stored = self.store.get_many(missing) if self.store is not None and missing else {}
        with self._lock:
            for position, key in enumerate(keys):
                if found[position] is None and key in stored:
                    found[position] = self._scores[key] = stored[key]
                if found[position] is None:
                    self._misses += 1
                else:
                    self._hits += 1
                    self._scores.move_to_end(key)
            self._trim()
        return found

    def put_many(self, model_key: str, query: str, texts: Sequence[str], scores: Sequence[CachedScore]) -> None:
        """Stores the (score, truncated) of each text; past the capacity, the least recently used scores are dropped."""
        if len(texts) != len(scores):
            raise ConfigError(f"{len(texts)} texts but {len(scores)} scores; they must match.")
        keys = [pair_key(model_key, query, text) for text in texts]
        values = [(float(score[0]), bool(score[1])) for score in scores]
        with self._lock:
            for key, value in zip(keys, values):
                self._scores[key] = value
                self._scores.move_to_end(key)
            self._trim()
        if self.store is not None:
            self.store.put_many(keys, values)

    def _trim(self) -> None:
        while len(self._scores) > self.capacity:
            self._scores.popitem(last=False)

    def clear(self) -> None:
        """Drops every score in memory and resets the hit and miss counts (the store on disk keeps its scores)."""
        with self._lock:
            self._scores.clear()
            self._hits = self._misses = 0

    def stats(self) -> CacheStats:
        """The hits, misses, size and capacity at this moment."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._scores), self.capacity)


def persistent_score_cache(cache_dir: Path) -> ScoreCache:
    """A score cache backed by the score store in ``cache_dir`` (``scores.sqlite3``): what the app and the
    command line use, so scores outlive the process.

    The store is a cache: found damaged, it is moved aside (``scores.sqlite3.damaged-...``, to look at or delete) and
    a new one is started, with a warning; scores are then computed again as they are asked for. When it cannot be
    moved aside, scores are kept in memory only, with a warning."""
    path = Path(cache_dir) / "scores.sqlite3"
    try:
        return ScoreCache(store=ScoreStore(path))
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        reason = str(exc)
    try:
        aside = set_aside(path)
    except FileNotFoundError:  # another process moved it aside first
        return ScoreCache(store=ScoreStore(path))
    except OSError as exc:
        logger.warning("The score store %s is damaged (%s) and could not be moved aside (%s): scores are kept in "
                       "memory only until it is. Delete the file (it is a cache) to have them kept on disk again.",
                       path, reason, exc.strerror or exc)
        return ScoreCache()
    logger.warning("The score store %s was damaged (%s). It is a cache, so it was moved aside to %s (delete it when "
                   "you wish) and a new one was started: scores are computed again as they are asked for.",
                   path, reason, aside)
    return ScoreCache(store=ScoreStore(path))

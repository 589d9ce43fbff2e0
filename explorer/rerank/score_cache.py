"""Reranker scores already computed: (model, query, document text) -> score, in memory, bounded (LRU).

Changing the depth, moving the threshold, rerunning a query or comparing configurations asks for the same
pairs again; they are answered from here without running the model. Keys are digests of the model key, the
query and the text, so the cache holds no document text. The model key names the model's weights and the
way it ran (backend, precision, token limit): the same pair scored another way is another entry.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence, Tuple

from explorer.errors import ConfigError

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

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ConfigError(f"The score cache needs room for at least one score, got capacity {capacity}.")
        self.capacity = capacity
        self._scores: OrderedDict[bytes, CachedScore] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get_many(self, model_key: str, query: str, texts: Sequence[str]) -> list[CachedScore | None]:
        """The cached (score, truncated) of each text, or None where there is none."""
        keys = [pair_key(model_key, query, text) for text in texts]
        found: list[CachedScore | None] = []
        with self._lock:
            for key in keys:
                score = self._scores.get(key)
                if score is None:
                    self._misses += 1
                else:
                    self._hits += 1
                    self._scores.move_to_end(key)
                found.append(score)
        return found

    def put_many(self, model_key: str, query: str, texts: Sequence[str], scores: Sequence[CachedScore]) -> None:
        """Stores the (score, truncated) of each text; past the capacity, the least recently used scores are dropped."""
        if len(texts) != len(scores):
            raise ConfigError(f"{len(texts)} texts but {len(scores)} scores; they must match.")
        keys = [pair_key(model_key, query, text) for text in texts]
        with self._lock:
            for key, score in zip(keys, scores):
                self._scores[key] = (float(score[0]), bool(score[1]))
                self._scores.move_to_end(key)
            while len(self._scores) > self.capacity:
                self._scores.popitem(last=False)

    def clear(self) -> None:
        """Drops every score and resets the hit and miss counts."""
        with self._lock:
            self._scores.clear()
            self._hits = self._misses = 0

    def stats(self) -> CacheStats:
        """The hits, misses, size and capacity at this moment."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._scores), self.capacity)

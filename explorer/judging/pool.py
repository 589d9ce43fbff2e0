"""The pool to judge for a query: the union of the top n of every list being compared, in a blind order.

The order is random but fixed per query and rater (seeded by both), and shows no rank, score or stage: where a
document stood, or which model put it there, cannot bias its grade. Another rater sees another order.
"""

from __future__ import annotations

import hashlib
import random
from typing import Sequence

DEFAULT_POOL_DEPTH = 10


def judging_pool(query_id: str, rater: str, rankings: Sequence[Sequence[str]],
                 depth: int = DEFAULT_POOL_DEPTH) -> list[str]:
    """Every document in the top ``depth`` of any of ``rankings`` (each a list of document ids, best first),
    once, in the blind order of this query and rater."""
    if depth < 1:
        raise ValueError(f"The pool depth must be at least 1, got {depth}.")
    pooled = sorted({doc_id for ranking in rankings for doc_id in ranking[:depth]})
    seed = int.from_bytes(hashlib.sha256(f"{query_id}\x00{rater}".encode()).digest()[:8], "big")
    random.Random(seed).shuffle(pooled)
    return pooled

"""The pool to judge for a query: the union of the top n of every list being compared, in a blind order.

The order is random but fixed per query and rater (seeded by both), and shows no rank, score or stage: where a
document stood, or which model put it there, cannot bias its grade. Another rater sees another order.

To fill the holes in a query's labels, the pool leaves out the documents that already have a grade: from the data
set's own labels, or from another rater here. The rater's own grades do not count as labels for this: what they
graded before stays in their pool and shows as done. Leaving documents out keeps the order of the rest, so the
rater's place in the pool holds.
"""

from __future__ import annotations

import hashlib
import random
from typing import Collection, Mapping, Sequence

from explorer.judging.store import Judgement

DEFAULT_POOL_DEPTH = 10


def judging_pool(query_id: str, rater: str, rankings: Sequence[Sequence[str]],
                 depth: int = DEFAULT_POOL_DEPTH, leave_out: Collection[str] = ()) -> list[str]:
    """Every document in the top ``depth`` of any of ``rankings`` (each a list of document ids, best first),
    once, in the blind order of this query and rater; without those in ``leave_out`` (see ``labelled_elsewhere``)."""
    if depth < 1:
        raise ValueError(f"The pool depth must be at least 1, got {depth}.")
    pooled = sorted({doc_id for ranking in rankings for doc_id in ranking[:depth]})
    seed = int.from_bytes(hashlib.sha256(f"{query_id}\x00{rater}".encode()).digest()[:8], "big")
    random.Random(seed).shuffle(pooled)
    left_out = set(leave_out)
    return [doc_id for doc_id in pooled if doc_id not in left_out]  # shuffled first: the rest keep their order


def labelled_elsewhere(own_labels: Mapping[str, int], judgements: Sequence[Judgement], rater: str) -> set[str]:
    """The documents of one query that already have a grade, from the data set's own labels (``own_labels``, its
    qrels before any judging here) or from another rater's ``judgements`` of the query."""
    return set(own_labels) | {j.doc_id for j in judgements if j.rater != rater}


def left_out_of_pool(own_labels: Mapping[str, int], judgements: Sequence[Judgement], rater: str) -> frozenset[str]:
    """What a pool to fill the holes leaves out for ``rater``: the documents ``labelled_elsewhere``, but those the
    rater graded too (they stay in the pool, shown as done)."""
    mine = {j.doc_id for j in judgements if j.rater == rater}
    return frozenset(labelled_elsewhere(own_labels, judgements, rater) - mine)

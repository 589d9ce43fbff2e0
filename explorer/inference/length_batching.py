"""Batches of inputs of similar token length, so a batch pads little.

A transformer pays for every position of a padded batch. Inputs sorted by length and cut into batches of
similar length waste almost nothing on padding; a token budget lets batches of short inputs hold more rows
than batches of long ones. The caller scatters each batch's results back by its row indices, so results
come out in the original order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from explorer.errors import ConfigError


def plan_batches(lengths: Sequence[int] | np.ndarray, max_batch: int, token_budget: int) -> list[np.ndarray]:
    """Row indices of each batch, longest inputs first.

    A batch holds at most ``max_batch`` rows and, beyond its first row, at most ``token_budget`` padded
    tokens (rows x the batch's longest input). Every row is in exactly one batch.
    """
    if max_batch < 1:
        raise ConfigError(f"max_batch must be at least 1, got {max_batch}.")
    if token_budget < 1:
        raise ConfigError(f"token_budget must be at least 1, got {token_budget}.")
    sizes = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-sizes, kind="stable")  # ties keep input order
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = max(int(sizes[order[start]]), 1)  # the first row of a batch is its longest
        rows = max(1, min(max_batch, token_budget // longest))
        batches.append(order[start:start + rows])
        start += rows
    return batches


def plan_for_streams(lengths: Sequence[int] | np.ndarray, max_batch: int, token_budget: int,
                     streams: int) -> list[np.ndarray]:
    """``plan_batches``' rows, cut for a backend that runs ``streams`` batches side by side (one per group of cores):
    as many batches as the budget needs, rounded up to a multiple of ``streams`` (at most one row each), each
    holding about the same padded tokens.

    Filled to the budget, the batches of a few inputs end in a small one: 10 rows of 256 tokens under a 2,048-token
    budget make batches of 8 and 2, and one core works through 8 rows while the other waits after 2. Here the same
    rows make 5 and 5. The cut is the smallest per-batch token cap (at most ``token_budget``) that needs no more
    batches than that; longest inputs still come first, so the backend starts the costliest batches first."""
    plans = plan_batches(lengths, max_batch, token_budget)
    sizes = np.asarray(lengths, dtype=np.int64)
    wanted = min(len(sizes), -(-len(plans) // max(streams, 1)) * max(streams, 1))
    if streams <= 1 or wanted <= 1:
        return plans
    low, high = 1, token_budget  # the budget itself needs len(plans) <= wanted batches
    while low < high:
        middle = (low + high) // 2
        if _batch_count(sizes, max_batch, middle) <= wanted:
            high = middle
        else:
            low = middle + 1
    return plan_batches(sizes, max_batch, low)


def _batch_count(sizes: np.ndarray, max_batch: int, token_budget: int) -> int:
    """How many batches ``plan_batches`` makes of ``sizes`` under ``token_budget`` (without making them)."""
    ordered = np.sort(sizes)[::-1]
    count, start = 0, 0
    while start < len(ordered):
        start += max(1, min(max_batch, token_budget // max(int(ordered[start]), 1)))
        count += 1
    return count

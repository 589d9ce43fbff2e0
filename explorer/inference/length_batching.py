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


def spread(batches: list[np.ndarray], at_least: int) -> list[np.ndarray]:
    """``batches`` with the largest split in halves until there are ``at_least`` of them (or every one holds a
    single row): a backend that runs several batches side by side, one per group of cores, leaves cores idle when
    a few inputs make fewer batches than it has streams."""
    spread_out = list(batches)
    while len(spread_out) < at_least:
        largest = max(range(len(spread_out)), key=lambda i: len(spread_out[i]), default=None)
        if largest is None or len(spread_out[largest]) < 2:
            break
        rows = spread_out.pop(largest)
        half = (len(rows) + 1) // 2
        spread_out[largest:largest] = [rows[:half], rows[half:]]
    return spread_out

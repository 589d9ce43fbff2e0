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
    order = _longest_first(lengths)
    return _cut(order, _batch_rows(np.asarray(lengths, dtype=np.int64)[order], max_batch, token_budget))


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
    wanted = min(len(lengths), -(-len(plans) // max(streams, 1)) * max(streams, 1))
    if streams <= 1 or wanted <= 1:
        return plans
    order = _longest_first(lengths)  # sorted once; the search below only counts batches
    ordered = np.asarray(lengths, dtype=np.int64)[order]
    low, high = 1, token_budget  # the budget itself needs len(plans) <= wanted batches
    while low < high:
        middle = (low + high) // 2
        if len(_batch_rows(ordered, max_batch, middle)) <= wanted:
            high = middle
        else:
            low = middle + 1
    return _cut(order, _batch_rows(ordered, max_batch, low))


def _longest_first(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    """Row indices, longest input first; ties keep input order."""
    return np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")


def _batch_rows(ordered: np.ndarray, max_batch: int, token_budget: int) -> list[int]:
    """How many rows each batch takes of the lengths ``ordered`` longest first: at most ``max_batch``, and beyond
    the first, no more than the budget's padded tokens (rows x the batch's first, longest, row)."""
    rows: list[int] = []
    start = 0
    while start < len(ordered):
        longest = max(int(ordered[start]), 1)
        rows.append(max(1, min(max_batch, token_budget // longest)))
        start += rows[-1]
    return rows


def _cut(order: np.ndarray, rows: list[int]) -> list[np.ndarray]:
    """``order`` cut into consecutive batches of ``rows`` rows each."""
    bounds = np.cumsum([0, *rows])
    return [order[bounds[i]:bounds[i + 1]] for i in range(len(rows))]

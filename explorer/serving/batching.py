"""Micro-batching: reranking requests that arrive together are scored in one model call.

One worker thread owns the model. The first request it takes waits up to ``wait_s`` for others to join, up to
``max_pairs`` pairs, and the merged pairs go through one call; each request gets its own scores back, in its own
order. A request whose deadline passed while it queued is not scored at all (its caller has already answered with
the fallback). With batching off, every request is its own call: what the load benchmark compares against.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from explorer.errors import ExplorerError

logger = logging.getLogger(__name__)

# (query, document) pairs -> one raw score per pair, in order
ScoreFunction = Callable[[Sequence[tuple[str, str]]], np.ndarray]


class QueueFull(ExplorerError):
    """The batcher's queue is full: the service is answering 503 until it drains."""


class DeadlinePassed(ExplorerError):
    """A request's time budget ran out before the model reached it; it was not scored."""


@dataclass
class _Job:
    pairs: list[tuple[str, str]]
    deadline: float  # time.monotonic() past which the answer is no longer wanted
    future: Future = field(default_factory=Future)


@dataclass(frozen=True)
class BatchStats:
    """What the batcher has done: model calls, requests scored, pairs scored, requests dropped past deadline."""

    calls: int
    requests: int
    pairs: int
    expired: int


class MicroBatcher:
    """Scores requests' pairs on one worker thread, merging the requests that wait together (thread-safe)."""

    def __init__(self, score: ScoreFunction, *, queue_size: int, wait_s: float = 0.005, max_pairs: int = 512,
                 batching: bool = True) -> None:
        self._score = score
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self.wait_s = wait_s
        self.max_pairs = max_pairs
        self.batching = batching
        self._calls = self._requests = self._pairs = self._expired = 0
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="reranker-batcher", daemon=True)
        self._worker.start()

    def submit(self, pairs: Sequence[tuple[str, str]], deadline: float) -> Future:
        """A future of the pairs' raw scores; raises QueueFull when the queue is full."""
        job = _Job(list(pairs), deadline)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFull("The reranker's queue is full; try again shortly.") from None
        return job.future

    @property
    def waiting(self) -> int:
        """Requests queued and not yet taken by the worker."""
        return self._queue.qsize()

    def stats(self) -> BatchStats:
        """The counts so far."""
        with self._lock:
            return BatchStats(self._calls, self._requests, self._pairs, self._expired)

    def close(self) -> None:
        """Stops the worker after the jobs already queued."""
        self._queue.put(None)
        self._worker.join(timeout=30)

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = self._gather(first)
            live = [job for job in batch if self._still_wanted(job)]
            if live:
                self._run(live)

    def _gather(self, first: _Job) -> list[_Job]:
        """``first`` and, with batching on, the jobs that arrive within the wait, up to ``max_pairs`` pairs."""
        batch, size = [first], len(first.pairs)
        if not self.batching:
            return batch
        until = time.monotonic() + self.wait_s
        while size < self.max_pairs:
            try:
                job = self._queue.get(timeout=max(0.0, until - time.monotonic())) \
                    if time.monotonic() < until else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # closing: put the sentinel back for the loop to see
                self._queue.put(None)
                break
            batch.append(job)
            size += len(job.pairs)
        return batch

    def _still_wanted(self, job: _Job) -> bool:
        if time.monotonic() < job.deadline and job.future.set_running_or_notify_cancel():
            return True
        if not job.future.done():
            job.future.set_exception(DeadlinePassed("The time budget ran out while the request waited for the "
                                                    "reranker."))
        with self._lock:
            self._expired += 1
        return False

    def _run(self, jobs: list[_Job]) -> None:
        merged = [pair for job in jobs for pair in job.pairs]
        try:
            scores = np.asarray(self._score(merged), dtype=np.float32)
            if scores.shape != (len(merged),):
                raise ExplorerError(f"The reranker gave {scores.shape} scores for {len(merged)} pairs.")
        except Exception as exc:  # noqa: BLE001 - every waiting request is told, and answers with the fallback
            logger.warning("reranker call failed for %d requests: %s: %s", len(jobs), type(exc).__name__, exc)
            for job in jobs:
                job.future.set_exception(exc)
            return
        finally:
            with self._lock:
                self._calls += 1
                self._requests += len(jobs)
                self._pairs += len(merged)
        start = 0
        for job in jobs:
            job.future.set_result(scores[start:start + len(job.pairs)])
            start += len(job.pairs)

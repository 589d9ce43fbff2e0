"""One model, many callers: runs asked for at the same time are queued and merged into shared model calls.

Every browser session shares the loaded models. Without this, ten sessions reranking at once start ten model
calls side by side, each with all the CPU's threads, and all ten finish late. Here at most ``concurrent`` calls
run at a time (the engine allows two, so one tokenises while the other computes): the caller that finds the
model free runs the oldest waiting requests, merged into one call up to ``max_inputs`` inputs (several queries
in one batch), and hands the model on; the others wait for their answers. Measured with ten sessions at depth
100 (``python -m explorer bench-sessions``), the median session answers sooner and the last one about as late. A request is never split, so an answer is exactly what a call of its own would give.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

# (inputs, output name) -> per input: values (first axis) and the tokens each input had after truncation
RunFunction = Callable[[Sequence[Any], str], "Outputs"]


@dataclass(frozen=True)
class Outputs:
    """What one model call returns for its inputs, in input order."""

    values: np.ndarray
    lengths: np.ndarray
    ran: Any = None  # what computed them (the engine's EngineInfo), handed on to every caller of the call


@dataclass
class _Request:
    inputs: list[Any]
    output: str
    finished: bool = False
    result: Outputs | None = None
    error: BaseException | None = None


class SharedRuns:
    """Serialises and merges the runs of one model; thread-safe."""

    def __init__(self, run: RunFunction, max_inputs: int = 256, concurrent: int = 1) -> None:
        self._run = run
        self.max_inputs = max_inputs
        self.concurrent = concurrent  # model calls at once (a second one tokenises while the first computes)
        self._pending: list[_Request] = []
        self._busy = 0
        self._turn = threading.Condition()
        self.calls = 0  # model calls made, for the benchmark and tests
        self.requests = 0

    def run(self, inputs: Sequence[Any], output: str) -> Outputs:
        """The model's ``output`` for ``inputs``, in their order, computed in a call shared with other waiting
        requests. Raises what the model call raised."""
        request = _Request(list(inputs), output)
        with self._turn:
            self._pending.append(request)
            self.requests += 1
            while not request.finished:
                if self._busy >= self.concurrent or request not in self._pending:  # full, or taken by a running call
                    self._turn.wait()
                    continue
                self._busy += 1
                batch = self._take()
                self._turn.release()
                try:
                    self._answer(batch)
                finally:
                    self._turn.acquire()
                    self._busy -= 1
                    self._turn.notify_all()
        if request.error is not None:
            raise request.error
        assert request.result is not None  # finished without an error means answered
        return request.result

    def _take(self) -> list[_Request]:
        """The oldest waiting requests that ask for the same output, up to ``max_inputs`` inputs (at least one)."""
        batch = [self._pending.pop(0)]
        size = len(batch[0].inputs)
        while self._pending and self._pending[0].output == batch[0].output \
                and size + len(self._pending[0].inputs) <= self.max_inputs:
            size += len(self._pending[0].inputs)
            batch.append(self._pending.pop(0))
        return batch

    def _answer(self, batch: list[_Request]) -> None:
        merged = [item for request in batch for item in request.inputs]
        self.calls += 1
        try:
            out = self._run(merged, batch[0].output)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the call that failed
            for request in batch:
                request.error, request.finished = exc, True
            return
        start = 0
        for request in batch:
            end = start + len(request.inputs)
            request.result = Outputs(out.values[start:end], out.lengths[start:end], getattr(out, "ran", None))
            request.finished = True
            start = end

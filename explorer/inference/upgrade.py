"""Faster stages made in the background: an engine answers from bf16 while its int8 graph is quantised.

Quantising a reranker to int8 takes the better part of a minute on a small CPU, once per model (later processes
read the kept graph back in a second). Rather than make the first query wait for it, the engine runs in bf16 at
once and swaps in the int8 stages when they are ready; each run says which stages it used.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

logger = logging.getLogger(__name__)

# Measured: quantising a MiniLM-L6 reranker took 25-45 s on 2 cores; the progress shown assumes this.
EXPECTED_SECONDS = 45.0
# A process that ends while a preparation runs waits for it this long: OpenVINO's and NNCF's own threads, killed
# with the interpreter, abort the process ("terminate called without an active exception") and the graph is lost.
EXIT_WAIT_SECONDS = 300.0


@dataclass
class Upgrade:
    """One background preparation: when it started, how long it should take, and whether it has finished."""

    what: str  # e.g. "int8"
    answering_from: str  # the label of the stages that answer meanwhile, e.g. "openvino · bf16"
    expected_seconds: float = EXPECTED_SECONDS
    started: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)

    def elapsed(self) -> float:
        """Seconds since it started."""
        return time.monotonic() - self.started

    def fraction(self) -> float:
        """Elapsed time over the expected time, capped below 1 until it has finished (for a progress bar)."""
        if self.done.is_set():
            return 1.0
        return min(0.95, self.elapsed() / self.expected_seconds)

    @property
    def note(self) -> str:
        """What is happening, for a page."""
        elapsed = self.elapsed()
        when = (f"{elapsed:.0f} s of about {self.expected_seconds:.0f} s" if elapsed <= self.expected_seconds else
                f"{elapsed:.0f} s so far: longer than the usual {self.expected_seconds:.0f} s, as on a busy machine")
        return (f"Preparing the reranker for {self.what} inference in the background ({when}; once per model); "
                f"results meanwhile come from {self.answering_from}, and say so.")


def start(upgrade: Upgrade, make: Callable[[], Any], finish: Callable[[Any], None]) -> None:
    """Runs ``make`` on a daemon thread and hands its result to ``finish`` (which must not raise); ``upgrade.done``
    is set afterwards, whatever happened."""

    def work() -> None:
        try:
            finish(make())
        except Exception:  # logged; the engine keeps answering from the stages it has
            logger.exception("the background %s preparation failed; the engine stays as it is", upgrade.what)
        finally:
            upgrade.done.set()
            with _LOCK:
                _RUNNING.pop(id(upgrade), None)

    with _LOCK:
        _RUNNING[id(upgrade)] = upgrade
    threading.Thread(target=work, name=f"prepare-{upgrade.what}", daemon=True).start()


def running() -> list[Upgrade]:
    """The preparations still running in this process."""
    with _LOCK:
        return list(_RUNNING.values())


def wait_for_running(limit_s: float = EXIT_WAIT_SECONDS) -> bool:
    """Waits (up to ``limit_s`` in all) for the preparations still running; True when none is left."""
    deadline = time.monotonic() + limit_s
    pending = running()
    if pending:
        logger.warning("waiting for %d background model preparation(s) to finish before the process ends (at most "
                       "%.0f s)", len(pending), limit_s)
    for upgrade in pending:
        upgrade.done.wait(max(0.0, deadline - time.monotonic()))
    return not running()


_LOCK = threading.Lock()
_RUNNING: dict[int, Upgrade] = {}
atexit.register(wait_for_running)

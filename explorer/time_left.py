"""The time a long run has left, estimated from its pace so far, and said as a person would say it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# Before this share of the work (or this many seconds) the pace says little: the first items carry the start-up
# (models loading, graphs read back), so no estimate is given yet.
MIN_SHARE = 0.05
MIN_SECONDS = 2.0


def seconds_left(done: int, total: int, elapsed_s: float) -> float | None:
    """Seconds still to go at the pace so far (``elapsed_s`` for ``done`` of ``total`` items); None when too
    little is done to tell, and 0 once everything is done."""
    if total <= 0 or done >= total:
        return 0.0
    if done <= 0 or done / total < MIN_SHARE or elapsed_s < MIN_SECONDS:
        return None
    return elapsed_s / done * (total - done)


def said(seconds: float | None) -> str:
    """"about 40 s left", "about 3 min left", "about 1 h 20 min left"; "estimating the time left" for None."""
    if seconds is None:
        return "estimating the time left"
    if seconds < 60:
        return f"about {max(5, int(round(seconds / 5.0)) * 5)} s left"
    minutes = int(round(seconds / 60.0))
    if minutes < 60:
        return f"about {minutes} min left"
    hours, rest = divmod(minutes, 60)
    return f"about {hours} h {rest} min left" if rest else f"about {hours} h left"


@dataclass
class Pace:
    """Times a run from its creation: ``status(done, total)`` is "12 of 225 queries, about 3 min left"."""

    unit: str = "queries"
    started: float = field(default_factory=time.perf_counter)

    def status(self, done: int, total: int) -> str:
        """Where the run is and the time it has left."""
        left = seconds_left(done, total, time.perf_counter() - self.started)
        return f"{done} of {total} {self.unit}, {said(left)}"

"""What an evaluation or a comparison will cost before it starts: the pairs its rerankers score (queries x depth),
and the time they take at the speed measured on this machine (``explorer.models.measured_speed``), scaled to each
preset's size. Pairs already scored are read back from the score store, so a run can take less."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from explorer.models.catalog import find_preset
from explorer.models.measured_speed import MeasuredSpeed
from explorer.time_left import said


@dataclass(frozen=True)
class RunCost:
    """Pairs to score, and seconds at the measured pace (None where no reranker's speed is known here)."""

    pairs: int
    seconds: float | None
    unknown: tuple[str, ...]  # rerankers whose speed here is not known (remote ones, models with no preset)

    def said(self) -> str:
        """One sentence for the page, e.g. "5,300 pairs to score: about 2 min at the speed measured here"."""
        if self.pairs == 0:
            return "No reranker runs: only the first stage, which takes seconds."
        text = f"{self.pairs:,} (query, document) pairs to score"
        if self.seconds is not None:
            text += f": {said(self.seconds).removesuffix(' left')} at the speed measured on this machine"
        elif not self.unknown:
            text += " (no speed has been measured here yet: the first query on the Search page measures it)"
        if self.unknown:
            text += f"; the time of {', '.join(self.unknown)} is not known here"
        return text + ". Pairs scored before are read back, so it can take less."


def pairs_per_second(name: str, measured: MeasuredSpeed | None) -> float | None:
    """The pace ``name`` should run at here: measured for that model, or the measurement scaled by the preset's size."""
    if measured is None:
        return None
    if name == measured.model:
        return measured.per_second
    known = find_preset(name)
    return known.expected_per_second(measured) if known is not None else None


def rerank_cost(queries: int, depth: int, rerankers: Sequence[str | None],
                measured: MeasuredSpeed | None) -> RunCost:
    """The cost of reranking ``depth`` candidates of each of ``queries`` queries with each of ``rerankers`` (None:
    a configuration without a reranker, which scores no pair)."""
    pairs, seconds, unknown = 0, 0.0, []
    for name in rerankers:
        if not name:
            continue
        pairs += queries * depth
        pace = pairs_per_second(name, measured)
        if pace is None or pace <= 0:
            unknown.append(name)
        else:
            seconds += queries * depth / pace
    known = pairs > 0 and len(unknown) < sum(1 for name in rerankers if name)
    return RunCost(pairs, seconds if known else None, tuple(unknown) if measured is not None else ())

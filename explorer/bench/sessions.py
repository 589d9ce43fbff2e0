"""``python -m explorer bench-sessions``: several browser sessions asking at the same moment.

Each session is a thread, as in the app's server, that sends its own labelled query of the sample data through
both stages at depth ``depth`` with the app's default models, scoring every pair afresh (no score cache). The
same sessions run twice on the same loaded models: with the engine's shared runs (the app's way: calls take
turns and merge, ``explorer.inference.shared_runs``) and with every session calling the model side by side.
Reported per way: each session's wall time from the common start, its median and maximum, and the whole.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from explorer.errors import ConfigError
from explorer.inference.device import DeviceChoice
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, SAMPLE_DATA, Settings

Say = Callable[[str], None]


@dataclass(frozen=True)
class SessionsRun:
    """The wall time of every session of one run, in seconds, from the moment they all started."""

    way: str  # "shared runs" or "side by side"
    seconds: tuple[float, ...]
    model_calls: int  # reranker calls made (shared runs merge several sessions' pairs into one)

    @property
    def median_s(self) -> float:
        """The median session's wall time."""
        return statistics.median(self.seconds)

    @property
    def max_s(self) -> float:
        """The slowest session's wall time (the whole run)."""
        return max(self.seconds)


@dataclass(frozen=True)
class SessionsBench:
    """Both ways of the same sessions, with what ran."""

    sessions: int
    depth: int
    reranker: str
    engine: str
    runs: tuple[SessionsRun, ...]

    def to_json(self) -> dict:
        """Plain JSON types: per way, the median, the maximum and every session's seconds."""
        return {"sessions": self.sessions, "depth": self.depth, "reranker": self.reranker, "engine": self.engine,
                "runs": {run.way: {"median_s": round(run.median_s, 2), "max_s": round(run.max_s, 2),
                                   "model_calls": run.model_calls, "seconds": [round(s, 2) for s in run.seconds]}
                         for run in self.runs}}


def bench_sessions(settings: Settings, device: DeviceChoice, sessions: int = 10, depth: int = 100,
                   say: Say = lambda text: None) -> SessionsBench:
    """Runs ``sessions`` concurrent queries twice: with shared runs, then side by side (same models, no cache)."""
    from explorer.inference.engine import InferenceEngine
    from explorer.loading import load_beir
    from explorer.models.resolution import load_bi_encoder, load_reranker
    from explorer.spec import index_corpus

    if sessions < 1 or depth < 1:
        raise ConfigError("bench-sessions needs at least one session and a depth of at least 1.")
    data = load_beir(SAMPLE_DATA)
    queries = [query.text for query in data.labelled_queries("test")][:sessions]
    if len(queries) < sessions:
        raise ConfigError(f"The sample data has {len(queries)} test queries; ask for at most that many sessions.")
    bi = load_bi_encoder(DEFAULT_BI_ENCODER, device, settings)
    shared = load_reranker(DEFAULT_RERANKER, device, settings)
    apart = replace(shared, engine=InferenceEngine(shared.model, device, replace(shared.engine.config,
                                                                                   share_runs=False)))
    base = index_corpus(data, bi, None, settings)
    for loaded in (bi, shared, apart):
        loaded.engine.info()  # prepared before the clock starts
    base.with_reranker(shared).search(queries[0], depth=depth)  # warm-up: first-call costs are not the point
    say(f"{sessions} sessions, depth {depth}, reranker {shared.info.loaded} ({shared.engine.info().label})")
    runs = []
    for way, reranker in (("shared runs", shared), ("side by side", apart)):
        calls_before = reranker.engine.shared.calls
        seconds = _at_once(base.with_reranker(reranker), queries, depth)
        run = SessionsRun(way, tuple(seconds), reranker.engine.shared.calls - calls_before if way == "shared runs"
                          else len(queries))
        say(f"{way}: median {run.median_s:.1f} s, max {run.max_s:.1f} s, {run.model_calls} reranker calls")
        runs.append(run)
    return SessionsBench(sessions, depth, shared.info.loaded, shared.engine.info().label, tuple(runs))


def _at_once(pipeline, queries: list[str], depth: int) -> list[float]:
    """Each query in a thread of its own, started together; each one's seconds until its answer."""
    start = threading.Barrier(len(queries) + 1)
    seconds: list[float] = [0.0] * len(queries)
    began = [0.0]

    def session(position: int) -> None:
        start.wait()
        pipeline.search(queries[position], depth=depth)
        seconds[position] = time.perf_counter() - began[0]

    threads = [threading.Thread(target=session, args=(i,)) for i in range(len(queries))]
    for thread in threads:
        thread.start()
    began[0] = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    return seconds

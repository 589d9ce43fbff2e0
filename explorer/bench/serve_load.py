"""``python -m explorer bench-serve``: many clients at once against the service on this machine.

For each way of running the reranker (merged model calls, then one call per request) a fresh ``serve`` process is
started on a free 127.0.0.1 port with the same pipeline file; ``clients`` clients then send ``POST /v1/rerank``
requests back to back for ``seconds`` seconds, each with a labelled query of the data set and ``documents``
documents. Counted per way: answers by status (503s are the service refusing work on purpose), fallbacks, latency
percentiles, throughput, the server's resident memory sampled every second, and its model calls (from /metrics).
Traffic goes only to 127.0.0.1, bounded in clients and time.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from explorer.errors import ConfigError
from explorer.export.pipeline_file import read_pipeline_file
from explorer.loading import load_beir

Say = Callable[[str], None]
MAX_CLIENTS = 200
MAX_SECONDS = 600


@dataclass(frozen=True)
class LoadConfig:
    """The load: clients sending at once, for how long, documents per request, and the service's time budget."""

    clients: int = 50
    seconds: float = 60.0
    documents: int = 10
    budget_ms: float = 120_000.0  # large by default: latency under load is measured, not cut to fallbacks
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.clients <= MAX_CLIENTS:
            raise ConfigError(f"--clients must be between 1 and {MAX_CLIENTS}, got {self.clients}.")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise ConfigError(f"--seconds must be more than 0 and at most {MAX_SECONDS}, got {self.seconds}.")
        if self.documents < 1:
            raise ConfigError(f"--documents must be at least 1, got {self.documents}.")


@dataclass(frozen=True)
class LoadRun:
    """What one way of serving did under the load."""

    way: str  # "micro-batching" or "one call per request"
    requests: int
    statuses: dict[str, int]
    fallbacks: int
    latencies_ms: tuple[float, ...] = field(repr=False)  # of the 200 answers
    seconds: float
    pairs: int  # pairs reranked in answers that were not fallbacks
    model_calls: int
    memory_mb: tuple[float, ...] = field(repr=False)  # the server's resident memory, one sample a second

    @property
    def errors(self) -> int:
        """Answers that were neither 200 nor a deliberate 503."""
        return sum(count for status, count in self.statuses.items() if status not in ("200", "503"))

    def percentile_ms(self, share: float) -> float:
        """The latency below which ``share`` of the 200 answers came (0: no answer)."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> dict:
        """The figures, rounded, for printing and JSON."""
        memory = self.memory_mb or (0.0,)
        return {"way": self.way, "requests": self.requests, "statuses": self.statuses, "errors": self.errors,
                "fallbacks": self.fallbacks, "p50_ms": round(self.percentile_ms(0.5), 1),
                "p95_ms": round(self.percentile_ms(0.95), 1),
                "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else 0.0,
                "requests_per_s": round(self.statuses.get("200", 0) / self.seconds, 2),
                "pairs_per_s": round(self.pairs / self.seconds, 1), "model_calls": self.model_calls,
                "memory_mb": {"first": round(memory[0]), "at_one_quarter": round(memory[len(memory) // 4]),
                              "at_half": round(memory[len(memory) // 2]), "last": round(memory[-1]),
                              "max": round(max(memory)),
                              "every_10_s": [round(mb) for mb in memory[::10]]}}


@dataclass(frozen=True)
class LoadReport:
    """Both ways under the same load."""

    config: LoadConfig
    reranker: str
    runs: tuple[LoadRun, ...]

    def to_json(self) -> dict:
        """Plain JSON types."""
        return {"config": asdict(self.config), "reranker": self.reranker,
                "runs": [run.summary() for run in self.runs]}


def request_bodies(dataset_path: str, config: LoadConfig) -> list[dict]:
    """One request per labelled query of the data set (all its queries when none is labelled): the query and
    ``documents`` documents, its judged ones first, then others drawn at random."""
    data = load_beir(dataset_path)
    rng = random.Random(config.seed)
    texts = [doc.full_text for doc in data.documents]
    labelled = {query_id for split in data.qrels_by_split.values() for query_id in split}
    bodies = []
    for query_id, query in sorted(data.queries.items()):
        if labelled and query_id not in labelled:
            continue
        judged = [data.document(doc_id).full_text for split in data.qrels_by_split.values()
                  for doc_id in split.get(query_id, {})][:config.documents]
        others = rng.sample(texts, k=min(len(texts), config.documents - len(judged)))
        bodies.append({"query": query.text, "documents": judged + others})
    if not bodies:
        raise ConfigError(f"The data set {dataset_path} has no queries to send.")
    return bodies


async def drive(base_url: str, bodies: list[dict], config: LoadConfig,
                sample_memory: Callable[[], float] | None = None) -> tuple[list[tuple[int, float, bool, int]],
                                                                          list[float], float]:
    """``config.clients`` clients posting ``bodies`` (in turn) to ``base_url``/v1/rerank for ``config.seconds``;
    per answer (status, milliseconds, fallback, documents), the memory samples, and the wall time."""
    import httpx

    if not base_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ConfigError("The load benchmark sends traffic to this machine only (http://127.0.0.1:PORT).")
    answers: list[tuple[int, float, bool, int]] = []
    memory: list[float] = []
    started = time.perf_counter()
    until = started + config.seconds

    async def client(number: int, http: httpx.AsyncClient) -> None:
        turn = number
        while time.perf_counter() < until:
            body = bodies[turn % len(bodies)]
            turn += config.clients
            sent = time.perf_counter()
            try:
                response = await http.post(f"{base_url}/v1/rerank", json=body)
                status = response.status_code
                fallback = status == 200 and bool(response.json().get("fallback"))
            except httpx.TransportError:
                status, fallback = 0, False
            answers.append((status, (time.perf_counter() - sent) * 1000, fallback, len(body["documents"])))
            if status == 503:
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))

    async def watch() -> None:
        while time.perf_counter() < until and sample_memory is not None:
            memory.append(sample_memory())
            await asyncio.sleep(1.0)

    limits = httpx.Limits(max_connections=config.clients + 5)
    timeout = httpx.Timeout(config.budget_ms / 1000 + config.seconds + 30)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        await asyncio.gather(watch(), *(client(number, http) for number in range(config.clients)))
    if sample_memory is not None:
        memory.append(sample_memory())
    return answers, memory, time.perf_counter() - started


def load_run(way: str, answers: list[tuple[int, float, bool, int]], memory: list[float], seconds: float,
             model_calls: int) -> LoadRun:
    """The figures of one way's answers."""
    statuses: dict[str, int] = {}
    for status, _, _, _ in answers:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    ok = [(ms, fallback, documents) for status, ms, fallback, documents in answers if status == 200]
    return LoadRun(way, len(answers), dict(sorted(statuses.items())), sum(fallback for _, fallback, _ in ok),
                   tuple(ms for ms, _, _ in ok), seconds, sum(documents for _, fallback, documents in ok
                                                              if not fallback), model_calls, tuple(memory))


WAYS = {"micro-batching": [], "one call per request": ["--no-batching"]}


def run_serve_load(pipeline: Path, config: LoadConfig, say: Say, ways: tuple[str, ...] = tuple(WAYS)) -> LoadReport:
    """Each of ``ways`` (default both) on a fresh ``serve`` process with the same pipeline file, under the same
    load."""
    import psutil

    file = read_pipeline_file(pipeline)
    bodies = request_bodies(file.dataset, config)
    runs = []
    for way in ways:
        flags = WAYS[way]
        with _served(pipeline, config, flags, say) as (base_url, pid):
            process = psutil.Process(pid)
            say(f"{way}: {config.clients} clients for {config.seconds:g} s against {base_url}")
            answers, memory, seconds = asyncio.run(drive(base_url, bodies, config, _resident_mb(process)))
            runs.append(load_run(way, answers, memory, seconds, _model_calls(base_url)))
        say(f"{way}: {runs[-1].summary()}")
    return LoadReport(config, file.reranker.loaded if file.reranker else "", tuple(runs))


def _resident_mb(process: object) -> Callable[[], float]:
    """A reader of ``process``'s (a psutil.Process) resident memory in MB."""
    return lambda: process.memory_info().rss / 2 ** 20  # type: ignore[attr-defined]


def _model_calls(base_url: str) -> int:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(httpx.get(f"{base_url}/metrics", timeout=30).text):
        for sample in family.samples:
            if sample.name == "explorer_model_calls":
                return int(sample.value)
    return 0


class _served:
    """``python -m explorer serve`` on a free 127.0.0.1 port, until the block ends; (base URL, process id)."""

    def __init__(self, pipeline: Path, config: LoadConfig, flags: list[str], say: Say) -> None:
        self.pipeline, self.config, self.flags, self.say = pipeline, config, flags, say

    def __enter__(self) -> tuple[str, int]:
        import socket

        import httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="serve-", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "explorer", "serve", "--pipeline", str(self.pipeline), "--port", str(port),
             "--budget-ms", str(self.config.budget_ms), "--max-documents", str(max(1000, self.config.documents)),
             *self.flags], stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ})
        base_url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 600
        while True:
            if self.process.poll() is not None:
                raise ConfigError(f"serve stopped before answering; its log is {self.log.name}.")
            if time.monotonic() > deadline:
                self.process.kill()
                raise ConfigError(f"serve did not answer within 10 minutes; its log is {self.log.name}.")
            try:
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    return base_url, self.process.pid
            except httpx.TransportError:
                time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.say(f"(the service's log: {self.log.name})")

"""The service's Prometheus metrics: requests by endpoint and outcome, stage latencies, fallbacks by cause,
requests refused for a full service, requests in the service, and the reranker's model calls (and, with a cascade, the
small reranker's).

Each service has its own registry, so two services in one process (tests) count apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from explorer.serving.batching import MicroBatcher

# seconds: from a fast first stage to a slow CPU reranking a deep list
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServiceMetrics:
    """Counters, gauges and histograms of one service, and their text for ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("explorer_requests", "Requests answered, by endpoint and outcome",
                                ["endpoint", "outcome"], registry=self.registry)
        self.fallbacks = Counter("explorer_fallbacks", "Answers given in the first-stage order, by cause",
                                 ["endpoint", "cause"], registry=self.registry)
        self.stage_seconds = Histogram("explorer_stage_seconds", "Time per stage of a request",
                                       ["stage"], buckets=BUCKETS, registry=self.registry)
        self.refused = Counter("explorer_refused", "Requests refused with 503: the service was full",
                               registry=self.registry)
        self.bad_requests = Counter("explorer_bad_requests", "Requests refused with 4xx", ["status"],
                                    registry=self.registry)
        self.pending = Gauge("explorer_pending_requests", "Requests in the service now", registry=self.registry)

    def watch(self, batcher: MicroBatcher, prefix: str = "explorer_", model: str = "Reranker") -> None:
        """Reports the batcher's model calls and the requests and pairs they scored, read when scraped. A second
        model's batcher (a cascade's small reranker) is reported under names of its own ``prefix``."""
        for name, text, read in (
                ("model_calls", f"{model} model calls made", lambda: batcher.stats().calls),
                ("model_call_requests", "Requests scored by those calls", lambda: batcher.stats().requests),
                ("model_call_pairs", "Pairs scored by those calls", lambda: batcher.stats().pairs),
                ("expired_requests", "Requests not scored: their budget ran out in the queue",
                 lambda: batcher.stats().expired),
                ("queue_waiting", f"Requests waiting for the {model.lower()}", lambda: batcher.waiting)):
            Gauge(prefix + name, text, registry=self.registry).set_function(read)

    def answered(self, endpoint: str, timings_ms: dict[str, float], fallback_cause: str | None) -> None:
        """Counts an answer, its stage times and, when it is a fallback, its cause ("budget" or "failure")."""
        self.requests.labels(endpoint, "fallback" if fallback_cause else "reranked").inc()
        for stage, ms in timings_ms.items():
            self.stage_seconds.labels(stage).observe(ms / 1000)
        if fallback_cause:
            self.fallbacks.labels(endpoint, fallback_cause).inc()

    def rejected(self) -> None:
        """Counts a request refused because the service was full."""
        self.refused.inc()

    def refused_as(self, status: int) -> None:
        """Counts a request refused with a 4xx ``status``."""
        self.bad_requests.labels(str(status)).inc()

    def text(self) -> bytes:
        """The metrics in Prometheus's text format."""
        return generate_latest(self.registry)

"""What the service accepts and how long it waits: request sizes, the time budget, the queue, micro-batching."""

from __future__ import annotations

import math
from dataclasses import dataclass

from explorer.errors import ConfigError

DEFAULT_BUDGET_MS = 5_000.0
# A budget set from the start's measurement is this many times one search through both stages: a request that
# waits behind another one's model call, or has longer documents than the warm-up query, still gets reranked.
BUDGET_HEADROOM = 3.0


def measured_budget_ms(search_ms: float) -> float:
    """The time budget for a pipeline whose one search through both stages took ``search_ms`` here:
    ``BUDGET_HEADROOM`` times that, rounded up to 100 ms, and never under the 5,000 ms default."""
    return max(DEFAULT_BUDGET_MS, math.ceil(BUDGET_HEADROOM * search_ms / 100) * 100)


@dataclass(frozen=True)
class ServiceLimits:
    """The service's limits. A request over a size limit gets a 4xx naming the limit; a request that finds
    ``max_pending`` requests already in the service gets 503 with Retry-After; the reranker gets what is left of
    the time budget after the first stage, and past it the answer is the first-stage order (a fallback).
    ``budget_ms`` None: the budget is set at start from the pipeline's measured latency (``measured_budget_ms``),
    and is ``DEFAULT_BUDGET_MS`` until then."""

    max_documents: int = 1000  # per /v1/rerank request
    max_document_chars: int = 20_000  # per document
    max_query_chars: int = 2_000
    max_body_bytes: int = 8_000_000
    max_top_n: int = 1000
    budget_ms: float | None = None  # per request, first stage and reranking together; None: from the measurement
    max_pending: int = 64  # requests in the service at once; more get 503
    retry_after_s: int = 1  # what a 503 tells the client to wait
    batching: bool = True  # merge concurrent requests into one model call
    batch_wait_ms: float = 5.0  # how long the first request of a batch waits for others to join
    max_batch_pairs: int = 512  # pairs in one merged model call
    max_json_depth: int = 32  # nesting of arrays and objects in a body (a request needs 3)

    def __post_init__(self) -> None:
        for name in ("max_documents", "max_document_chars", "max_query_chars", "max_body_bytes", "max_top_n",
                     "max_pending", "max_batch_pairs", "max_json_depth"):
            if getattr(self, name) < 1:
                raise ConfigError(f"The service's {name} must be at least 1, got {getattr(self, name)}.")
        if self.budget_ms is not None and self.budget_ms <= 0:
            raise ConfigError(f"The time budget must be more than 0 ms, got {self.budget_ms}.")
        if self.batch_wait_ms < 0 or self.retry_after_s < 0:
            raise ConfigError("The batch wait and Retry-After must not be negative.")

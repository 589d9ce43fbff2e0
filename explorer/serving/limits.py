"""What the service accepts and how long it waits: request sizes, the time budget, the queue, micro-batching."""

from __future__ import annotations

from dataclasses import dataclass

from explorer.errors import ConfigError


@dataclass(frozen=True)
class ServiceLimits:
    """The service's limits. A request over a size limit gets a 4xx naming the limit; a request that finds
    ``max_pending`` requests already in the service gets 503 with Retry-After; the reranker gets what is left of
    ``budget_ms`` after the first stage, and past it the answer is the first-stage order (a fallback)."""

    max_documents: int = 1000  # per /v1/rerank request
    max_document_chars: int = 20_000  # per document
    max_query_chars: int = 2_000
    max_body_bytes: int = 8_000_000
    max_top_n: int = 1000
    budget_ms: float = 5_000.0  # per request, first stage and reranking together
    max_pending: int = 64  # requests in the service at once; more get 503
    retry_after_s: int = 1  # what a 503 tells the client to wait
    batching: bool = True  # merge concurrent requests into one model call
    batch_wait_ms: float = 5.0  # how long the first request of a batch waits for others to join
    max_batch_pairs: int = 512  # pairs in one merged model call

    def __post_init__(self) -> None:
        for name in ("max_documents", "max_document_chars", "max_query_chars", "max_body_bytes", "max_top_n",
                     "max_pending", "max_batch_pairs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"The service's {name} must be at least 1, got {getattr(self, name)}.")
        if self.budget_ms <= 0:
            raise ConfigError(f"The time budget must be more than 0 ms, got {self.budget_ms}.")
        if self.batch_wait_ms < 0 or self.retry_after_s < 0:
            raise ConfigError("The batch wait and Retry-After must not be negative.")

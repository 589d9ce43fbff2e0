"""The service behind the HTTP doors: a pipeline file opened once, answering rerank and search requests.

Each request has a time budget: the one given, else one set at start from a search's measured cost with headroom
(``TimeBudget``, ``explorer.serving.limits.measured_budget_ms``). The first stage runs in the request's thread; the
reranker runs on the micro-batcher's worker (``explorer.serving.batching``). When the reranker fails, or the budget
runs out before it answers, the request is answered with the first-stage order, marked ``fallback`` with the
reason, and the reason is logged. At most ``max_pending`` requests are in the service at once; the next one is
refused (``ServiceBusy``, HTTP 503 with Retry-After) instead of queueing without bound. Every request is logged as
one JSON line with its stage timings, and counted in the Prometheus metrics.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Literal, Sequence

import numpy as np

from explorer.errors import ConfigError, ExplorerError
from explorer.export.pipeline_file import PipelineFile
from explorer.inference.tokenizing import tokenizing
from explorer.models.info import LoadedModel
from explorer.pipeline import RerankedHit, reranked_hits
from explorer.records import Hit
from explorer.rerank.scoring import relevance_column
from explorer.serving.batching import DeadlinePassed, MicroBatcher, QueueFull, ScoreFunction
from explorer.serving.limits import DEFAULT_BUDGET_MS, ServiceLimits, measured_budget_ms
from explorer.serving.memory import heap_trimmer
from explorer.serving.metrics import ServiceMetrics
from explorer.spec import OpenPipeline

logger = logging.getLogger("explorer.serving")
FallbackCause = Literal["budget", "failure"]


class ServiceBusy(ExplorerError):
    """The service holds as many requests as it may; the client should retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RerankedDocument:
    """One document of a rerank answer: its position in the request, the reranker's raw score (or, in a fallback,
    a score from its position: 1 for the first, falling to 1/n), and its probability of relevance where there is
    one."""

    index: int
    relevance_score: float
    probability: float | None = None
    above_threshold: bool | None = None  # None: the pipeline has no threshold, or this is a fallback


@dataclass(frozen=True)
class ServedHit:
    """One result of /v1/search: the document, the reranker's raw score and its probability, the score it was
    ranked by (the blend with the first stage, or the raw score), and where the first stage had it."""

    doc_id: str
    rank: int
    relevance_score: float | None  # None in a fallback: the reranker did not score it
    probability: float | None
    ranking_score: float
    first_stage_rank: int
    first_stage_score: float
    passage_id: str | None = None


@dataclass(frozen=True)
class Answer:
    """What the service answers: the results in order, whether they are the fallback and why, and stage times."""

    request_id: str
    results: tuple[RerankedDocument, ...] | tuple[ServedHit, ...]
    fallback: bool
    reason: str
    timings_ms: dict[str, float]
    dropped_by_threshold: int = 0
    cause: FallbackCause | None = None  # why it fell back: the budget ran out, or the reranker failed


@dataclass(frozen=True)
class TimeBudget:
    """The time budget per request and where it came from: "given" (``--budget-ms``), "measured" (set at start from
    one search's cost, ``measured_search_ms``), or "default" (none given, nothing measured yet)."""

    ms: float
    source: Literal["given", "measured", "default"]
    measured_search_ms: float | None = None

    def said(self) -> str:
        """The budget and its source, in words, for the start log."""
        if self.source == "given":
            return f"{self.ms:,.0f} ms, as given"
        if self.source == "default":
            return f"{self.ms:,.0f} ms, the default"
        return (f"{self.ms:,.0f} ms, from a search through both stages measured at start "
                f"({self.measured_search_ms:,.0f} ms) with headroom; --budget-ms sets another")


@dataclass
class _Clock:
    started: float = field(default_factory=time.perf_counter)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.marks[stage] = (now - since) * 1000
        return now

    def total(self) -> dict[str, float]:
        return {**self.marks, "total": (time.perf_counter() - self.started) * 1000}


def model_scores(reranker: LoadedModel) -> ScoreFunction:
    """The reranker's raw scores for (query, document) pairs, through its engine (as the explorer scores them); after
    each call the heap's free pages go back to the system, so the service's memory stays flat
    (``explorer.serving.memory``)."""
    trim = heap_trimmer()

    def score(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        try:
            return relevance_column(reranker.engine.run(list(pairs), "scores").values)
        finally:
            trim()

    return score


class RerankService:
    """One opened pipeline answering requests (thread-safe). ``score`` replaces the reranker's scoring, for tests
    that make the reranker fail or run slow; by default it is the pipeline's own reranker."""

    def __init__(self, file: PipelineFile, opened: OpenPipeline, limits: ServiceLimits | None = None,
                 score: ScoreFunction | None = None) -> None:
        if opened.reranker is None:
            raise ConfigError("This pipeline file has no reranker; the service reranks. Export a pipeline with one.")
        self.file = file
        self.opened = opened
        self.limits = limits = limits or ServiceLimits()
        self.reranker = opened.reranker
        self.differences = file.differences(opened)
        self.budget = TimeBudget(limits.budget_ms, "given") if limits.budget_ms is not None else \
            TimeBudget(DEFAULT_BUDGET_MS, "default")
        self.metrics = ServiceMetrics()
        self._batcher = MicroBatcher(score or model_scores(self.reranker), queue_size=limits.max_pending,
                                     wait_s=limits.batch_wait_ms / 1000, max_pairs=limits.max_batch_pairs,
                                     batching=limits.batching)
        self.metrics.watch(self._batcher)
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """The reranker that runs, as loaded."""
        return self.reranker.info.loaded

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Holds one of the ``max_pending`` places while a request is served; ServiceBusy when none is free."""
        with self._lock:
            if self._pending >= self.limits.max_pending:
                self.metrics.rejected()
                raise ServiceBusy(f"The service is serving {self._pending} requests, its limit; retry in "
                                  f"{self.limits.retry_after_s} s.", self.limits.retry_after_s)
            self._pending += 1
            self.metrics.pending.set(self._pending)
        try:
            yield
        finally:
            with self._lock:
                self._pending -= 1
                self.metrics.pending.set(self._pending)

    def budget_from_measurement(self, search_ms: float) -> TimeBudget:
        """Records what one search through both stages cost at start; where no budget was given, the budget becomes
        ``measured_budget_ms(search_ms)``. A given budget is kept. Call it before the service listens."""
        if self.budget.source == "given":
            self.budget = TimeBudget(self.budget.ms, "given", search_ms)
        else:
            self.budget = TimeBudget(measured_budget_ms(search_ms), "measured", search_ms)
        return self.budget

    def rerank(self, query: str, documents: Sequence[str], top_n: int | None = None,
               max_tokens_per_doc: int | None = None) -> Answer:
        """``documents`` ordered by the reranker for ``query`` (the first ``top_n``); in a fallback, in the order
        given. ``max_tokens_per_doc``: each document is read up to its first that many tokens (of the reranker's
        tokenizer), as Cohere's v2 API cuts them."""
        query = self._checked_query(query)
        self._check_documents(documents)
        top_n = self._checked_top_n(top_n, len(documents))
        request_id, clock = uuid.uuid4().hex, _Clock()
        texts = self._cut_to_tokens(list(documents), max_tokens_per_doc)
        raw, reason, cause = self._scores(query, texts, clock)
        if raw is None:
            count = len(documents)
            results = tuple(RerankedDocument(i, (count - i) / count) for i in range(count))
        else:
            probability = self._probability(raw)
            kept = self.file.kept(raw) if self.file.threshold is not None else None
            order = sorted(range(len(documents)), key=lambda i: (-float(raw[i]), i))
            results = tuple(RerankedDocument(i, float(raw[i]),
                                             float(probability[i]) if probability is not None else None,
                                             bool(kept[i]) if kept is not None else None) for i in order)
        answer = Answer(request_id, results[:top_n], raw is None, reason, clock.total(), cause=cause)
        self._log("rerank", answer, documents=len(documents))
        return answer

    def search(self, query: str, top_n: int | None = None) -> Answer:
        """``query`` through both stages as the pipeline file says (first stage, depth, blend), the file's
        threshold applied to the reranker's scores; in a fallback, the first stage's order (no threshold: it
        applies to reranker scores)."""
        query = self._checked_query(query)
        depth = self.file.depth
        top_n = self._checked_top_n(top_n, depth)
        request_id, clock = uuid.uuid4().hex, _Clock()
        pipeline = self.opened.pipeline
        candidates, encoded, searched = pipeline.candidates(query, depth, self.opened.spec.first_stage_method)
        encoded = clock.started if encoded is None else encoded
        clock.marks["query encoding"] = (encoded - clock.started) * 1000
        clock.marks["first-stage search"] = (searched - encoded) * 1000
        raw, reason, cause = self._scores(query, [pipeline.candidate_text(hit) for hit in candidates], clock) \
            if candidates else (np.zeros(0, dtype=np.float32), "", None)
        dropped = 0
        if raw is None:
            hits: tuple[ServedHit, ...] = tuple(_first_stage_hit(hit) for hit in candidates)
        else:
            probability = self._probability(raw)
            reranked = reranked_hits(candidates, raw, probability, self.opened.blend)
            kept = self.file.kept(np.array([hit.score for hit in reranked], dtype=np.float32))
            dropped = int((~kept).sum())
            hits = tuple(_served(hit) for hit, keep in zip(reranked, kept) if keep)
        answer = Answer(request_id, hits[:top_n], raw is None, reason, clock.total(), dropped, cause)
        self._log("search", answer, candidates=len(candidates))
        return answer

    def warm_up(self, query: str) -> None:
        """Runs ``query`` through both stages once, uncounted and unlogged, so that the first request does not
        pay for preparing the engines."""
        pipeline = self.opened.pipeline
        candidates, _, _ = pipeline.candidates(query, self.file.depth, self.opened.spec.first_stage_method)
        pairs = [(query, pipeline.candidate_text(hit)) for hit in candidates] or [(query, query)]
        self._batcher.submit(pairs, time.monotonic() + 600).result()

    def health(self) -> dict:
        """What runs and how busy it is."""
        stats = self._batcher.stats()
        spec = self.opened.spec
        return {"status": "ok", "reranker": self.model_name, "bi_encoder": self.opened.pipeline.bi_encoder.info.loaded,
                "first_stage": spec.first_stage_method, "depth": self.file.depth, "blend": self.opened.blend,
                "threshold": None if self.file.threshold is None else
                {"value": self.file.threshold.value, "scale": self.file.threshold.scale},
                "differences_from_file": self.differences, "pending": self._pending,
                "model_calls": stats.calls, "batching": self.limits.batching,
                "budget_ms": self.budget.ms, "budget_source": self.budget.source,
                "measured_search_ms": None if self.budget.measured_search_ms is None else
                round(self.budget.measured_search_ms, 1)}

    def close(self) -> None:
        """Stops the reranker's worker."""
        self._batcher.close()

    def _scores(self, query: str, texts: list[str],
                clock: _Clock) -> tuple[np.ndarray | None, str, FallbackCause | None]:
        """The reranker's raw scores within what is left of the budget, or None, why not and its cause."""
        budget_ms = self.budget.ms
        left = budget_ms / 1000 - (time.perf_counter() - clock.started)
        since = time.perf_counter()
        if left <= 0:
            return None, f"the {budget_ms:.0f} ms budget ran out in the first stage, before reranking", "budget"
        try:
            future = self._batcher.submit([(query, text) for text in texts], time.monotonic() + left)
        except QueueFull:
            self.metrics.rejected()
            raise ServiceBusy("The reranker's queue is full; retry shortly.", self.limits.retry_after_s) from None
        try:
            raw = future.result(timeout=left)
        except (FutureTimeout, DeadlinePassed):
            clock.mark("reranking", since)
            return None, f"the reranker did not answer within the {budget_ms:.0f} ms budget", "budget"
        except Exception as exc:  # noqa: BLE001 - any reranker failure is answered with the fallback, and said
            clock.mark("reranking", since)
            return None, f"the reranker failed: {type(exc).__name__}: {exc}", "failure"
        clock.mark("reranking", since)
        return raw, "", None

    def _probability(self, raw: np.ndarray) -> np.ndarray | None:
        return self.file.probability(raw, self.reranker.info.has_probability)

    def _checked_query(self, query: str) -> str:
        if not isinstance(query, str) or not query.strip():
            raise ConfigError("The query is empty; send the question to rank documents for.")
        if len(query) > self.limits.max_query_chars:
            raise ConfigError(f"The query has {len(query):,} characters; at most {self.limits.max_query_chars:,} "
                              "are accepted. Send the question, not a document.")
        return query.strip()

    def _check_documents(self, documents: Sequence[str]) -> None:
        if not documents:
            raise ConfigError("No documents to rerank; send at least one.")
        if len(documents) > self.limits.max_documents:
            raise ConfigError(f"{len(documents):,} documents were sent; at most {self.limits.max_documents:,} are "
                              "reranked per request. Send the first stage's top candidates only.")
        for position, text in enumerate(documents):
            if len(text) > self.limits.max_document_chars:
                raise ConfigError(f"Document {position} has {len(text):,} characters; at most "
                                  f"{self.limits.max_document_chars:,} are accepted per document (the reranker "
                                  "reads only its first few hundred tokens). Send passages.")

    def _cut_to_tokens(self, texts: list[str], max_tokens: int | None) -> list[str]:
        """Each text up to its first ``max_tokens`` tokens. A limit at or over the reranker's own (query and
        document together) changes nothing the reranker reads, so the texts are not tokenised for it."""
        if max_tokens is None:
            return texts
        if max_tokens < 1:
            raise ConfigError(f"max_tokens_per_doc must be at least 1, got {max_tokens}.")
        limit = self.reranker.engine.max_length
        if limit and max_tokens >= limit:
            return texts
        tokenizer = getattr(self.reranker.model, "tokenizer", None)
        if tokenizer is None or not getattr(tokenizer, "is_fast", False):
            raise ConfigError(f"This service's reranker ({self.model_name}) has no fast tokenizer here to cut "
                              "documents at max_tokens_per_doc; leave max_tokens_per_doc out, or cut the documents "
                              "before sending them.")
        with tokenizing(tokenizer):
            encoded = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max_tokens,
                                return_offsets_mapping=True)
        cut = []
        for text, offsets in zip(texts, encoded["offset_mapping"]):
            cut.append(text[:offsets[-1][1]] if len(offsets) == max_tokens else text)
        return cut

    def _checked_top_n(self, top_n: int | None, count: int) -> int:
        if top_n is None:
            return count
        if not 1 <= top_n <= self.limits.max_top_n:
            raise ConfigError(f"top_n must be between 1 and {self.limits.max_top_n}, got {top_n}.")
        return top_n

    def _log(self, endpoint: str, answer: Answer, **sizes: int) -> None:
        self.metrics.answered(endpoint, answer.timings_ms, answer.cause)
        record = {"event": endpoint, "request_id": answer.request_id, **sizes, "results": len(answer.results),
                  "timings_ms": {stage: round(ms, 2) for stage, ms in answer.timings_ms.items()},
                  "fallback": answer.fallback}
        if answer.fallback:
            record["reason"] = answer.reason
            logger.warning(json.dumps(record))
        else:
            logger.info(json.dumps(record))


def _served(hit: RerankedHit) -> ServedHit:
    return ServedHit(hit.doc_id, hit.rank, hit.score, hit.probability,
                     hit.fused_score if hit.fused_score is not None else hit.score, hit.first_stage_rank,
                     hit.first_stage_score, hit.passage_id)


def _first_stage_hit(hit: Hit) -> ServedHit:
    return ServedHit(hit.doc_id, hit.rank, None, None, hit.score, hit.rank, hit.score, hit.passage_id)

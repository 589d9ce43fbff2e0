"""The service behind the HTTP doors: a pipeline file opened once, answering rerank and search requests.

Each request has a time budget: the one given, else one set at start from a search's measured cost with headroom
(``TimeBudget``, ``explorer.serving.limits.measured_budget_ms``). The first stage runs in the request's thread; the
reranker runs on the micro-batcher's worker (``explorer.serving.batching``). When the reranker fails, or the budget
runs out before it answers, the request is answered with the first-stage order, marked ``fallback`` with the
reason, and the reason is logged. At most ``max_pending`` requests are in the service at once; the next one is
refused (``ServiceBusy``, HTTP 503 with Retry-After) instead of queueing without bound. Every request is logged as
one JSON line with its stage timings, and counted in the Prometheus metrics.

With a cascade in the file (``explorer.rerank.cascade``), the small reranker has a worker of its own: it scores every
candidate, then the reranker scores the small one's best ``keep``, both within the one budget; either failing or
running out of time gives the same fallback, its reason naming which.

With signals in the file (``explorer.signals``: freshness, authority, numbers, diversity), the final order is the
signals' over the reranker's: ``/v1/search`` reorders its list with ``RetrievalPipeline.rank_with_signals``, the call
behind the Search page (each document's metadata from the corpus), and ``/v1/rerank`` reorders the documents sent with
``apply_signals`` over their reranker scores and the metadata sent with them (``explorer.serving.signalled``). A
fallback is reordered too, as cheap as it is: the signals read metadata (and, for MMR, vectors: the index's for a
search, encoded only for an attached Milvus collection; for documents sent, encoded before the reranker runs, within
the budget), so relevance is then the first stage's score, or the order sent; the answer's ``signals.relevance`` says
which. Each result says its final score, its parts and where relevance
alone had put it; the file's threshold still drops what the reranker scored under it, from the signals' order.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Literal, Mapping, Sequence

import numpy as np

from explorer.errors import ConfigError, ExplorerError
from explorer.export.pipeline_file import PipelineFile
from explorer.inference.tokenizing import tokenizing
from explorer.models.info import LoadedModel
from explorer.pipeline import PipelineResult, RerankedHit, StageTimings, cascade_hits, reranked_hits
from explorer.records import Hit
from explorer.rerank.cascade import MAIN, CascadeReport, CascadeScores, cascade_order, kept_positions, \
    scores_by_position, small_ranking
from explorer.rerank.scoring import PairScores, order_by_score, relevance_column
from explorer.serving.batching import DeadlinePassed, MicroBatcher, QueueFull, ScoreFunction
from explorer.serving.limits import DEFAULT_BUDGET_MS, ServiceLimits, measured_budget_ms
from explorer.serving.memory import heap_trimmer
from explorer.serving.metrics import ServiceMetrics
from explorer.serving.signalled import active_signals, metadata_as_text, needs_vectors, rank_sent, sent_vectors
from explorer.signals.ranking import SignalledHit, SignalledRanking
from explorer.spec import OpenPipeline

logger = logging.getLogger("explorer.serving")
FallbackCause = Literal["budget", "failure"]
# what relevance was when the signals ranked a list: the ranking score (the reranker's, or its blend with the first
# stage's), a cascade's rank (its list mixes two models' scales), the first stage's score (a search's fallback), the
# reranker's score of each document sent, or the order the documents were sent in (a rerank's fallback)
SignalsRelevance = Literal["ranking_score", "cascade_rank", "first_stage_score", "relevance_score", "order_sent"]


class ServiceBusy(ExplorerError):
    """The service holds as many requests as it may; the client should retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class SignalScore:
    """Where the pipeline file's signals put a result: its place by relevance alone, its final score, and the final
    score's parts (relevance and each signal's weighted value, by label; they add up to the final score)."""

    relevance_rank: int
    final_score: float
    contributions: Mapping[str, float]

    @classmethod
    def of(cls, hit: SignalledHit) -> "SignalScore":
        """The scores of one result of ``apply_signals``."""
        return cls(hit.relevance_rank, hit.total, dict(hit.contributions))


@dataclass(frozen=True)
class SignalsApplied:
    """That an answer is in the signals' order: the signals in words, and what relevance was (``SignalsRelevance``)."""

    described: str
    relevance: SignalsRelevance


@dataclass(frozen=True)
class RerankedDocument:
    """One document of a rerank answer: its position in the request, the reranker's raw score (or, in a fallback,
    a score from its position: 1 for the first, falling to 1/n), and its probability of relevance where there is
    one."""

    index: int
    relevance_score: float
    probability: float | None = None
    above_threshold: bool | None = None  # None: the pipeline has no threshold, or this is a fallback
    # with a cascade, which model's score ``relevance_score`` is: "main" or "small" (None: no cascade, or a fallback)
    scored_by: str | None = None
    signalled: SignalScore | None = None  # None: the file has no signals


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
    # with a cascade, which model's score ``relevance_score`` is: "main" or "small" (None: no cascade, or a fallback)
    scored_by: str | None = None
    signalled: SignalScore | None = None  # None: the file has no signals (``rank`` is then relevance's rank)


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
    signals: SignalsApplied | None = None  # None: the file has no signals, and the order is relevance's


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


@dataclass(frozen=True)
class _Scorer:
    """One model of the service's reranking on its worker, and how a fallback's reason and the timings name it."""

    batcher: MicroBatcher
    who: str  # "the reranker" or "the small reranker", in a fallback's reason
    mark: str  # its stage in the timings
    spent_in: str  # where the budget went before it ran, in a fallback's reason


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
    """One opened pipeline answering requests (thread-safe). ``score`` (and ``small_score``, with a cascade) replaces
    the reranker's (the small reranker's) scoring, for tests that make it fail or run slow; by default each is the
    pipeline's own model."""

    def __init__(self, file: PipelineFile, opened: OpenPipeline, limits: ServiceLimits | None = None,
                 score: ScoreFunction | None = None, small_score: ScoreFunction | None = None) -> None:
        if opened.reranker is None:
            raise ConfigError("This pipeline file has no reranker; the service reranks. Export a pipeline with one.")
        self.file = file
        self.opened = opened
        self.limits = limits = limits or ServiceLimits()
        self.reranker = opened.reranker
        # the small reranker reading every candidate and how many of its best the reranker reads (None: no cascade)
        self.cascade: tuple[LoadedModel, int] | None = opened.pipeline.cascade
        self.differences = file.differences(opened)
        # the file's signals, resolved against the corpus it was exported from (None: relevance alone)
        self.signals = active_signals(file.signals)
        self.budget = TimeBudget(limits.budget_ms, "given") if limits.budget_ms is not None else \
            TimeBudget(DEFAULT_BUDGET_MS, "default")
        self.metrics = ServiceMetrics()
        self._batcher = self._worker(score or model_scores(self.reranker))
        self.metrics.watch(self._batcher)
        self._main = _Scorer(self._batcher, "the reranker", "reranking", "in the first stage")
        self._small: _Scorer | None = None
        if self.cascade is not None:
            small_batcher = self._worker(small_score or model_scores(self.cascade[0]))
            self.metrics.watch(small_batcher, prefix="explorer_small_", model="Small reranker")
            self._small = _Scorer(small_batcher, "the small reranker", "small reranking", "in the first stage")
            self._main = _Scorer(self._batcher, "the reranker", "main reranking",
                                 "in the first stage and the small reranker")
        self._pending = 0
        self._lock = threading.Lock()

    def _worker(self, score: ScoreFunction) -> MicroBatcher:
        limits = self.limits
        return MicroBatcher(score, queue_size=limits.max_pending, wait_s=limits.batch_wait_ms / 1000,
                            max_pairs=limits.max_batch_pairs, batching=limits.batching)

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
               max_tokens_per_doc: int | None = None, metadata: Sequence[Any] | None = None) -> Answer:
        """``documents`` ordered by the reranker for ``query`` (the first ``top_n``); in a fallback, in the order
        given. ``max_tokens_per_doc``: each document is read up to its first that many tokens (of the reranker's
        tokenizer), as Cohere's v2 API cuts them. With a cascade, the small reranker scores every document and the
        reranker its best ``keep``, in the cascade's order (``cascade_order``).

        With signals in the file, that order is then reordered by them (``explorer.serving.signalled``), each
        document's fields read from ``metadata`` (one object of field -> value, or None, per document; read only
        when the file has signals); MMR's vectors are encoded with the pipeline's bi-encoder before the reranker
        runs, within the budget."""
        query = self._checked_query(query)
        self._check_documents(documents)
        top_n = self._checked_top_n(top_n, len(documents))
        fields = self._sent_metadata(metadata, len(documents))
        request_id, clock = uuid.uuid4().hex, _Clock()
        texts = self._cut_to_tokens(list(documents), max_tokens_per_doc)
        main, small = self._main, self._small
        vectors = None
        if needs_vectors(self.signals):
            # MMR compares the documents as sent (uncut), as the page compares its candidates' indexed vectors
            since = time.perf_counter()
            vectors = sent_vectors(self.opened.pipeline.bi_encoder, documents, "this service")
            clock.mark("document encoding", since)
            main = replace(main, spent_in="encoding the documents for MMR" +
                           (" and in the small reranker" if small is not None else ""))
            small = replace(small, spent_in="encoding the documents for MMR") if small is not None else None
        results: tuple[RerankedDocument, ...] | None
        if self.cascade is None:
            raw, reason, cause = self._scores(query, texts, clock, main)
            results = None if raw is None else self._ranked_documents(raw)
        else:
            # documents sent have no first-stage score: the small reranker ranks by its score alone (blend 1), ties
            # in the order sent, as the reranker's own order does
            cascaded, reason, cause = self._cascade_scores(query, texts, [0.0] * len(texts), 1.0, clock, main, small)
            results = None if cascaded is None else self._cascaded_documents(cascaded)
        if results is None:
            count = len(documents)
            results = tuple(RerankedDocument(i, (count - i) / count) for i in range(count))
            fallback = True
        else:
            fallback = False
        applied = None
        if self.signals is not None and fields is not None:
            results, applied = self._signalled_documents(results, fallback, fields, vectors, clock)
        answer = Answer(request_id, results[:top_n], fallback, reason, clock.total(), cause=cause, signals=applied)
        self._log("rerank", answer, documents=len(documents))
        return answer

    def _sent_metadata(self, metadata: Sequence[Any] | None, count: int) -> list[dict[str, str]] | None:
        """Each document's metadata as text, as the loaders read a corpus's (``metadata_as_text``); None when the
        file has no signals, which leaves the metadata sent unread (and unchecked), as before signals existed."""
        if self.signals is None:
            return None
        if metadata is None:
            return [{} for _ in range(count)]
        if len(metadata) != count:
            raise ConfigError(f"{count} documents but {len(metadata)} metadata objects; send one per document (null "
                              "for none).")
        return [metadata_as_text(raw, f"documents.{position}") for position, raw in enumerate(metadata)]

    def _signalled_documents(self, results: tuple[RerankedDocument, ...], fallback: bool,
                             fields: Sequence[Mapping[str, str]], vectors: np.ndarray | None,
                             clock: _Clock) -> tuple[tuple[RerankedDocument, ...], SignalsApplied]:
        """``results`` (every document, in relevance order) reordered by the file's signals as ``apply_signals``
        reorders the Search page's list; relevance is the reranker's score over the documents sent, by rank for a
        cascade (two models' scales) and in a fallback (the order sent)."""
        if self.signals is None:
            raise RuntimeError("_signalled_documents was called on a service without signals; this is a bug.")
        since = time.perf_counter()
        relevance: SignalsRelevance = "order_sent" if fallback else \
            "cascade_rank" if self.cascade is not None else "relevance_score"
        scores = [item.relevance_score for item in results] if relevance == "relevance_score" else None
        ranking = rank_sent([item.index for item in results], scores, fields, self.signals, vectors)
        by_index = {item.index: item for item in results}
        reordered = tuple(replace(by_index[int(hit.doc_id)], signalled=SignalScore.of(hit)) for hit in ranking.hits)
        clock.mark("signals", since)
        return reordered, SignalsApplied(self.signals.describe(), relevance)

    def _ranked_documents(self, raw: np.ndarray) -> tuple[RerankedDocument, ...]:
        """Every document by the reranker's raw score (ties: the order sent), with its probability and whether the
        threshold keeps it."""
        probability = self._probability(raw)
        kept = self.file.kept(raw) if self.file.threshold is not None else None
        return tuple(RerankedDocument(i, float(raw[i]), float(probability[i]) if probability is not None else None,
                                      bool(kept[i]) if kept is not None else None)
                     for i in order_by_score(raw.tolist()))

    def _cascaded_documents(self, cascaded: CascadeScores) -> tuple[RerankedDocument, ...]:
        """Every document in the cascade's order, each with the score of the model that placed it; the probability
        and the threshold are the reranker's, so a document only the small reranker read has no probability and
        does not pass the threshold (as on the Search page)."""
        values, scored_by = scores_by_position(cascaded)
        main_order = order_by_score(cascaded.main.raw.tolist())
        probability = dict(zip(cascaded.main_positions, cascaded.main.probability)) \
            if cascaded.main.probability is not None else {}
        kept = self._kept(values, scored_by)
        return tuple(RerankedDocument(i, float(values[i]), float(probability[i]) if i in probability else None,
                                      bool(kept[i]) if self.file.threshold is not None else None, scored_by[i])
                     for i in cascade_order(cascaded.ranking, cascaded.main_positions, main_order))

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
        reranked, reason, cause = self._reranked(query, candidates, clock) if candidates else ((), "", None)
        if reranked is None:
            served = [_first_stage_hit(hit) for hit in candidates]
            kept = np.ones(len(served), dtype=bool)
        else:
            served = [_served(hit, self.cascade is not None) for hit in reranked]
            kept = self._kept(np.array([hit.score for hit in reranked], dtype=np.float32),
                              [hit.scored_by for hit in reranked])
        applied = None
        if self.signals is not None:
            ranking, applied = self._search_signals(query, depth, candidates, reranked, clock)
            # the threshold is on the reranker's scores, so it drops the same results, now from the signals' order
            places = [hit.relevance_rank - 1 for hit in ranking.hits]
            served = [replace(served[p], rank=hit.rank, signalled=SignalScore.of(hit))
                      for p, hit in zip(places, ranking.hits)]
            kept = kept[places]
        hits = tuple(hit for hit, keep in zip(served, kept) if keep)
        answer = Answer(request_id, hits[:top_n], reranked is None, reason, clock.total(), int((~kept).sum()), cause,
                        applied)
        self._log("search", answer, candidates=len(candidates))
        return answer

    def _search_signals(self, query: str, depth: int, candidates: tuple[Hit, ...],
                        reranked: tuple[RerankedHit, ...] | None,
                        clock: _Clock) -> tuple[SignalledRanking, SignalsApplied]:
        """The list reordered by the file's signals through ``RetrievalPipeline.rank_with_signals``, the call behind
        the Search page, on the result the page would have had: relevance is the ranking score (the blend's, where
        blended), by rank with a cascade, and the first stage's score in a fallback (as on a page without a
        reranker). Metadata comes from the corpus; MMR's vectors from the index."""
        if self.signals is None:
            raise RuntimeError("_search_signals was called on a service without signals; this is a bug.")
        since = time.perf_counter()
        pipeline = self.opened.pipeline
        report = None
        if reranked is not None and self.cascade is not None:
            small, keep = self.cascade
            report = CascadeReport(small.info.loaded, keep, len(candidates), min(keep, len(candidates)),
                                   clock.marks.get("small reranking", 0.0), clock.marks.get("main reranking", 0.0))
        result = PipelineResult(query=query, depth=depth, first_stage=candidates, reranked=reranked,
                                timings=StageTimings(0.0, 0.0, 0.0, 0.0), bi_encoder=pipeline.bi_encoder.info,
                                reranker=self.reranker.info if reranked is not None else None,
                                first_stage_method=self.opened.spec.first_stage_method, cascade=report)
        ranking = pipeline.rank_with_signals(result, self.signals).signals
        if ranking is None:
            raise RuntimeError("rank_with_signals returned no ranking for active signals; this is a bug.")
        clock.mark("signals", since)
        relevance: SignalsRelevance = "first_stage_score" if reranked is None else \
            "cascade_rank" if report is not None else "ranking_score"
        return ranking, SignalsApplied(self.signals.describe(), relevance)

    def _reranked(self, query: str, candidates: Sequence[Hit],
                  clock: _Clock) -> tuple[tuple[RerankedHit, ...] | None, str, FallbackCause | None]:
        """The candidates reranked as the Search pipeline ranks them (``reranked_hits``, or with a cascade
        ``cascade_hits``) at the file's blend, or None, why not and its cause."""
        texts = self.opened.pipeline.reranker_texts(query, candidates)  # what the Search pipeline's reranker reads
        blend = self.opened.blend
        if self.cascade is None:
            raw, reason, cause = self._scores(query, texts, clock, self._main)
            return (None if raw is None else reranked_hits(candidates, raw, self._probability(raw), blend)), reason, \
                cause
        cascaded, reason, cause = self._cascade_scores(query, texts, [hit.score for hit in candidates], blend, clock)
        return (None if cascaded is None else cascade_hits(candidates, cascaded, blend)), reason, cause

    def _kept(self, scores: np.ndarray, scored_by: Sequence[str]) -> np.ndarray:
        """Which results the file's threshold keeps (all without one). It is a threshold on the reranker's scores, so
        a result only a cascade's small reranker scored cannot pass it (the Search page's rule)."""
        kept = self.file.kept(scores)
        if self.file.threshold is not None:
            kept &= np.array([by == MAIN for by in scored_by], dtype=bool)
        return kept

    def warm_up(self, query: str) -> None:
        """Runs ``query`` through both stages once, uncounted and unlogged, so that the first request does not
        pay for preparing the engines."""
        pipeline = self.opened.pipeline
        candidates, _, _ = pipeline.candidates(query, self.file.depth, self.opened.spec.first_stage_method)
        pairs = [(query, text) for text in pipeline.reranker_texts(query, candidates)] or [(query, query)]
        if self._small is not None and self.cascade is not None:
            self._small.batcher.submit(pairs, time.monotonic() + 600).result()
            # the reranker reads only the small one's best: as many pairs as in a request, so that the start's
            # measured search (which sets the budget) costs what a request costs
            pairs = pairs[:self.cascade[1]]
        self._batcher.submit(pairs, time.monotonic() + 600).result()

    def health(self) -> dict:
        """What runs and how busy it is."""
        stats = self._batcher.stats()
        spec = self.opened.spec
        cascade = None
        if self.cascade is not None and self._small is not None:
            cascade = {"small_reranker": self.cascade[0].info.loaded, "keep": self.cascade[1],
                       "small_model_calls": self._small.batcher.stats().calls}
        return {"status": "ok", "reranker": self.model_name, "bi_encoder": self.opened.pipeline.bi_encoder.info.loaded,
                "cascade": cascade,
                "first_stage": spec.first_stage_method, "depth": self.file.depth, "blend": self.opened.blend,
                "threshold": None if self.file.threshold is None else
                {"value": self.file.threshold.value, "scale": self.file.threshold.scale},
                "signals": None if self.signals is None else self.signals.describe(),
                "differences_from_file": self.differences, "pending": self._pending,
                "model_calls": stats.calls, "batching": self.limits.batching,
                "budget_ms": self.budget.ms, "budget_source": self.budget.source,
                "measured_search_ms": None if self.budget.measured_search_ms is None else
                round(self.budget.measured_search_ms, 1)}

    def close(self) -> None:
        """Stops the rerankers' workers."""
        self._batcher.close()
        if self._small is not None:
            self._small.batcher.close()

    def _scores(self, query: str, texts: list[str], clock: _Clock,
                scorer: _Scorer) -> tuple[np.ndarray | None, str, FallbackCause | None]:
        """``scorer``'s raw scores within what is left of the budget, or None, why not and its cause."""
        budget_ms = self.budget.ms
        left = budget_ms / 1000 - (time.perf_counter() - clock.started)
        since = time.perf_counter()
        if left <= 0:
            return None, f"the {budget_ms:.0f} ms budget ran out {scorer.spent_in}, before {scorer.who} ran", "budget"
        try:
            future = scorer.batcher.submit([(query, text) for text in texts], time.monotonic() + left)
        except QueueFull:
            self.metrics.rejected()
            raise ServiceBusy(f"The queue of {scorer.who} is full; retry shortly.",
                              self.limits.retry_after_s) from None
        try:
            raw = future.result(timeout=left)
        except (FutureTimeout, DeadlinePassed):
            clock.mark(scorer.mark, since)
            return None, f"{scorer.who} did not answer within the {budget_ms:.0f} ms budget", "budget"
        except Exception as exc:  # noqa: BLE001 - any reranker failure is answered with the fallback, and said
            clock.mark(scorer.mark, since)
            return None, f"{scorer.who} failed: {type(exc).__name__}: {exc}", "failure"
        clock.mark(scorer.mark, since)
        return raw, "", None

    def _cascade_scores(self, query: str, texts: list[str], first_stage_scores: Sequence[float], blend: float,
                        clock: _Clock, main: _Scorer | None = None,
                        small: _Scorer | None = None) -> tuple[CascadeScores | None, str, FallbackCause | None]:
        """The cascade's scores as ``cascade_scores`` gives them (the small reranker's of every text, the reranker's
        of the small one's best ``keep`` by the same rule, ``blend``), each model on its own worker within the one
        budget; or None, why not and its cause. The timings have each model's stage and ``reranking`` for both.
        ``main`` and ``small``: the service's scorers as a fallback's reason names them (by default its own)."""
        main, small = main or self._main, small or self._small
        if self.cascade is None or small is None:
            raise RuntimeError("_cascade_scores was called on a service without a cascade; this is a bug.")
        keep = self.cascade[1]
        since = time.perf_counter()
        try:
            small_raw, reason, cause = self._scores(query, texts, clock, small)
            if small_raw is None:
                return None, reason, cause
            ranking = small_ranking(small_raw.tolist(), first_stage_scores, blend)
            positions = tuple(kept_positions(ranking, keep))
            main_raw, reason, cause = self._scores(query, [texts[p] for p in positions], clock, main)
            if main_raw is None:
                return None, reason, cause
        finally:
            if "small reranking" in clock.marks:
                clock.mark("reranking", since)
        # the small reranker's probability is left out: the file's calibration maps the reranker's scores, and a
        # result only the small one read has no score of the reranker's to map
        return CascadeScores(PairScores(small_raw, None), positions,
                             PairScores(main_raw, self._probability(main_raw)), None, tuple(ranking)), "", None

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


def _served(hit: RerankedHit, cascade: bool) -> ServedHit:
    return ServedHit(hit.doc_id, hit.rank, hit.score, hit.probability,
                     hit.fused_score if hit.fused_score is not None else hit.score, hit.first_stage_rank,
                     hit.first_stage_score, hit.passage_id, hit.scored_by if cascade else None)


def _first_stage_hit(hit: Hit) -> ServedHit:
    return ServedHit(hit.doc_id, hit.rank, None, None, hit.score, hit.rank, hit.score, hit.passage_id)

"""The cascade's M against quality and cost, from one evaluation: how few pairs can the reranker read?

An evaluation of the full rerank already holds the reranker's score of every candidate of every query. A cascade
at M is the small reranker's scores of every candidate (scored once, through the score cache), its top M read by
the reranker (scores the evaluation has), and the small one's order below: so the quality of every M comes from
two passes, not one per M. Cost per query is the small reranker's time plus M pairs at the reranker's measured
time per pair, both measured on queries scored afresh.

The reference a small reranker must beat comes free: the reranker on the first stage's own top M (no small pass,
the rest in the first stage's order), Vespa's rerank-count. On both data sets measured here it kept quality at
least as well as the small rerankers distilled here (docs/speed.md).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence


from explorer.errors import ConfigError
from explorer.evaluation.metrics import mean_metrics
from explorer.evaluation.runner import Evaluation
from explorer.models.info import LoadedModel
from explorer.pipeline import RetrievalPipeline, cascade_order_of_scores, reranked_order
from explorer.records import Hit
from explorer.rerank.cascade import kept_positions, small_ranking
from explorer.rerank.scoring import score_pairs

DEFAULT_KEEPS = (5, 10, 20, 30, 50)
TIMED_QUERIES = 5  # queries timed afresh when the score cache answered all of the small reranker's pairs


@dataclass(frozen=True)
class CascadePoint:
    """The cascade at one M: the metric over the split and the estimated reranking time per query."""

    keep: int
    metric: str
    value: float
    rerank_ms: float  # the small reranker on every candidate plus M pairs of the reranker, per query (median)
    pairs_read_by_main: int  # over the split


@dataclass(frozen=True)
class CascadeSweep:
    """The full rerank and the cascade at each M, on one evaluation's queries."""

    small: str
    metric: str
    full: float  # the metric of the full rerank (the evaluation's)
    small_alone: float  # the small reranker ranking every candidate by itself (same blend)
    full_ms: float  # the reranker on every candidate, per query (median of its fresh queries)
    small_ms: float  # the small reranker on every candidate, per query (median of the queries it scored afresh)
    points: tuple[CascadePoint, ...]
    timing_note: str  # where the times come from
    # the reranker on the first stage's own top M, the rest in the first stage's order (no small pass), at each M
    first_stage_points: tuple[CascadePoint, ...] = ()


@dataclass(frozen=True)
class SweepCase:
    """One query of an evaluation: its candidates in first-stage order, the small reranker's score of each (None: no
    small reranker, the first stage's order chooses what the reranker reads) and the full rerank's score of each."""

    query_id: str
    query: str
    hits: tuple[Hit, ...]
    small: tuple[float, ...] | None
    main: tuple[float, ...]

    def without_small(self) -> "SweepCase":
        """The same query with the first stage's order in place of the small reranker's."""
        return replace(self, small=None)

    def at_keep(self, keep: int, blend: float) -> tuple[list[str], list[int]]:
        """The doc ids in the cascade's order at ``keep`` (as a cascade search orders them, ``cascade_hits``), and
        the candidate positions the reranker read."""
        first = [h.score for h in self.hits]
        ranking = small_ranking(self.small, first, blend) if self.small is not None else list(range(len(self.hits)))
        positions = kept_positions(ranking, keep)
        below = self.small if self.small is not None else first
        order = cascade_order_of_scores(self.hits, below, ranking, positions, [self.main[p] for p in positions], blend)
        return order, positions


def check_sweepable(pipeline: RetrievalPipeline, evaluation: Evaluation) -> None:
    """Raises ConfigError, saying what to do, unless ``evaluation`` is a full rerank whose candidates a sweep of M can
    read again."""
    if not evaluation.has_reranker:
        raise ConfigError("The cascade sweep needs an evaluation with a reranker; choose one and evaluate again.")
    if evaluation.cascade:
        raise ConfigError("The cascade sweep starts from the full rerank, where the reranker read every candidate; "
                          f"this evaluation is a cascade already ({evaluation.cascade}). Turn the cascade off in "
                          "the sidebar, evaluate, and sweep from there.")
    if pipeline.passages:
        raise ConfigError("The cascade sweep reads documents whole or by window; with passages the candidates' "
                          "passages are not kept in the evaluation. Turn passage splitting off to sweep M.")


def usable_keeps(keeps: Sequence[int], depth: int) -> list[int]:
    """The M of ``keeps`` under ``depth``, sorted (M at or past the depth is no cascade); ConfigError when none is."""
    usable = sorted({k for k in keeps if 1 <= k < depth})
    if not usable:
        raise ConfigError(f"No M in {list(keeps)} is under the evaluated depth {depth}; the cascade's reranker must "
                          "read fewer candidates than the first stage returns.")
    return usable


def sweep_cases(pipeline: RetrievalPipeline, evaluation: Evaluation, small: LoadedModel | None,
                progress: Callable[[int, int], None] | None = None,
                clock: Callable[[], float] = time.perf_counter) -> tuple[list[SweepCase], list[float]]:
    """Every reranked query of ``evaluation`` as a ``SweepCase``, with ``small``'s scores of its candidates (through
    the score cache; None: no small reranker, nothing runs), and the milliseconds of the queries ``small`` scored
    afresh (none when the cache answered every pair: ``small_ms`` times a few then)."""
    check_sweepable(pipeline, evaluation)
    if small is not None:
        small.engine.settled()
    cases: list[SweepCase] = []
    small_times: list[float] = []
    outcomes = [o for o in evaluation.outcomes if o.reranked is not None and o.reranker_scores is not None]
    for step, outcome in enumerate(outcomes, start=1):
        hits = tuple(Hit(rank, doc_id, score) for rank, (doc_id, score)
                     in enumerate(zip(outcome.first_stage, outcome.first_stage_scores), start=1))
        query = evaluation.query_texts[outcome.query_id]
        small_raw = None
        if small is not None:
            started = clock()
            scored = score_pairs(small, query, pipeline.reranker_texts(query, list(hits)), cache=pipeline.score_cache)
            if scored.from_cache == 0 and hits:
                small_times.append((clock() - started) * 1000)
            small_raw = tuple(float(s) for s in scored.raw)
        main = dict(zip(outcome.reranked, outcome.reranker_scores))
        cases.append(SweepCase(outcome.query_id, query, hits, small_raw, tuple(main[h.doc_id] for h in hits)))
        if progress is not None:
            progress(step, len(outcomes))
    return cases, small_times


def small_ms(small: LoadedModel, pipeline: RetrievalPipeline, cases: Sequence[SweepCase],
             small_times: Sequence[float], clock: Callable[[], float] = time.perf_counter) -> tuple[float, int]:
    """The small reranker's median milliseconds per query and over how many queries: those it scored afresh in
    ``sweep_cases``, else a few timed afresh now (the cache answered them all, and its time is not the model's)."""
    times = list(small_times) or _fresh_times(small, pipeline, [(c.query, c.hits) for c in cases][:TIMED_QUERIES],
                                              clock)
    return (statistics.median(times) if times else 0.0), len(times)


@dataclass(frozen=True)
class PairTime:
    """The reranker's milliseconds per pair, and where the figure comes from."""

    ms: float
    queries: int  # the queries it is the median of
    # timed now: the score cache had answered every query of the evaluation, and its time there is not the model's
    afresh: bool

    def said(self) -> str:
        """E.g. "12.3 ms a pair (the median of 53 queries the reranker scored in the evaluation)"."""
        where = "timed afresh now, as the score cache answered the evaluation's" if self.afresh else \
            "the reranker scored in the evaluation"
        return f"{self.ms:,.1f} ms a pair (the median of {self.queries} queries {where})"


def reranker_pair_time(pipeline: RetrievalPipeline, evaluation: Evaluation, cases: Sequence[SweepCase],
                       clock: Callable[[], float] = time.perf_counter) -> PairTime:
    """The reranker's time per pair: the median of the queries it scored afresh in ``evaluation`` over the depth,
    else of a few of ``cases`` scored now without the cache."""
    fresh = [o.rerank_ms for o in evaluation.fresh_reranks()]
    if fresh:
        return PairTime(statistics.median(fresh) / evaluation.config.depth, len(fresh), afresh=False)
    if pipeline.reranker is None:
        raise ConfigError("The cascade's cost needs the reranker's time, and this pipeline has no reranker.")
    timed = [c for c in cases if c.hits][:TIMED_QUERIES]
    times = _fresh_times(pipeline.reranker, pipeline, [(c.query, c.hits) for c in timed], clock)
    per_pair = [ms / len(c.hits) for ms, c in zip(times, timed)]
    return PairTime(statistics.median(per_pair) if per_pair else 0.0, len(per_pair), afresh=True)


def cascade_sweep(pipeline: RetrievalPipeline, evaluation: Evaluation, small: LoadedModel,
                  keeps: Sequence[int] = DEFAULT_KEEPS, metric: str = "ndcg@10",
                  progress: Callable[[int, int], None] | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> CascadeSweep:
    """A point per M of ``keeps`` under the evaluated depth, from ``evaluation`` (the full rerank, at its blend)
    and the small reranker's scores of the same candidates (the score cache answers pairs it scored before); and
    the reranker on the first stage's own top M at each M, from the evaluation alone."""
    check_sweepable(pipeline, evaluation)
    depth = evaluation.config.depth
    usable = usable_keeps(keeps, depth)
    blend = evaluation.config.blend
    cases, small_times = sweep_cases(pipeline, evaluation, small, progress, clock)
    per_small, timed = small_ms(small, pipeline, cases, small_times, clock)
    pair_time = reranker_pair_time(pipeline, evaluation, cases, clock)
    full_ms = pair_time.ms * depth
    qrels = evaluation.qrels
    full = _value(qrels, {c.query_id: reranked_order(c.hits, c.main, blend) for c in cases}, metric)
    alone = _value(qrels, {c.query_id: reranked_order(c.hits, c.small or (), blend) for c in cases}, metric)
    points = _points(qrels, cases, usable, metric, blend, per_small, pair_time.ms)
    first_stage = _points(qrels, [c.without_small() for c in cases], usable, metric, blend, 0.0, pair_time.ms)
    note = (f"Times per query: the reranker's {pair_time.said()} for each pair it reads; the small reranker's the "
            f"median of {timed} queries it scored afresh.")
    return CascadeSweep(small.info.display_name, metric, full, alone, full_ms, per_small, tuple(points), note,
                        tuple(first_stage))


def _points(qrels: dict, cases: Sequence[SweepCase], keeps: Sequence[int], metric: str, blend: float,
            small_ms_per_query: float, per_pair: float) -> list[CascadePoint]:
    points = []
    for keep in keeps:
        ranked, read = {}, 0
        for case in cases:
            ranked[case.query_id], positions = case.at_keep(keep, blend)
            read += len(positions)
        points.append(CascadePoint(keep, metric, _value(qrels, ranked, metric), small_ms_per_query + keep * per_pair,
                                   read))
    return points


def _fresh_times(model: LoadedModel, pipeline: RetrievalPipeline, queries: Sequence[tuple[str, Sequence[Hit]]],
                 clock: Callable[[], float]) -> list[float]:
    """A reranker's (the small one's, or the main one's) milliseconds on each of a few (query, candidates), scored
    without the cache."""
    times = []
    for query, hits in queries:
        started = clock()
        score_pairs(model, query, pipeline.reranker_texts(query, list(hits)), cache=None)
        times.append((clock() - started) * 1000)
    return times


def _value(qrels: dict, ranked: dict[str, list[str]], metric: str) -> float:
    return mean_metrics(qrels, ranked, [metric])[metric] if ranked else 0.0

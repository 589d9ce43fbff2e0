"""The cascade's M against quality and cost, from one evaluation: how few pairs can the reranker read?

An evaluation of the full rerank already holds the reranker's score of every candidate of every query. A cascade
at M is the small reranker's scores of every candidate (scored once, through the score cache), its top M read by
the reranker (scores the evaluation has), and the small one's order below: so the quality of every M comes from
two passes, not one per M. Cost per query is the small reranker's time plus M pairs at the reranker's measured
time per pair, both measured on queries scored afresh.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
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


def cascade_sweep(pipeline: RetrievalPipeline, evaluation: Evaluation, small: LoadedModel,
                  keeps: Sequence[int] = DEFAULT_KEEPS, metric: str = "ndcg@10",
                  progress: Callable[[int, int], None] | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> CascadeSweep:
    """A point per M of ``keeps`` under the evaluated depth, from ``evaluation`` (the full rerank, at its blend)
    and the small reranker's scores of the same candidates (the score cache answers pairs it scored before)."""
    if not evaluation.has_reranker:
        raise ConfigError("The cascade sweep needs an evaluation with a reranker; choose one and evaluate again.")
    if evaluation.cascade:
        raise ConfigError("The cascade sweep starts from the full rerank, where the reranker read every candidate; "
                          f"this evaluation is a cascade already ({evaluation.cascade}). Turn the cascade off in "
                          "the sidebar, evaluate, and sweep from there.")
    if pipeline.passages:
        raise ConfigError("The cascade sweep reads documents whole or by window; with passages the candidates' "
                          "passages are not kept in the evaluation. Turn passage splitting off to sweep M.")
    depth = evaluation.config.depth
    usable = sorted({k for k in keeps if 1 <= k < depth})
    if not usable:
        raise ConfigError(f"No M in {list(keeps)} is under the evaluated depth {depth}; the cascade's reranker must "
                          "read fewer candidates than the first stage returns.")
    blend = evaluation.config.blend
    small.engine.settled()
    cases = []
    small_times: list[float] = []
    outcomes = [o for o in evaluation.outcomes if o.reranked is not None and o.reranker_scores is not None]
    for step, outcome in enumerate(outcomes, start=1):
        hits = [Hit(rank, doc_id, score) for rank, (doc_id, score)
                in enumerate(zip(outcome.first_stage, outcome.first_stage_scores), start=1)]
        query = evaluation.query_texts[outcome.query_id]
        started = clock()
        scored = score_pairs(small, query, pipeline.reranker_texts(query, hits), cache=pipeline.score_cache)
        if scored.from_cache == 0 and hits:
            small_times.append((clock() - started) * 1000)
        main = dict(zip(outcome.reranked, outcome.reranker_scores))
        cases.append((outcome.query_id, query, hits, [float(s) for s in scored.raw], [main[h.doc_id] for h in hits]))
        if progress is not None:
            progress(step, len(outcomes))
    if not small_times:  # the cache answered every pair: time a few queries afresh, so the cost is the model's
        small_times = _fresh_times(small, pipeline, [(query, hits) for _, query, hits, _, _ in cases][:TIMED_QUERIES],
                                   clock)
    fresh = [o.rerank_ms for o in evaluation.fresh_reranks()]
    full_ms = statistics.median(fresh) if fresh else 0.0
    per_pair = full_ms / depth if fresh else 0.0
    small_ms = statistics.median(small_times) if small_times else 0.0
    qrels = evaluation.qrels
    full = _value(qrels, {qid: reranked_order(hits, main, blend) for qid, _, hits, _, main in cases}, metric)
    alone = _value(qrels, {qid: reranked_order(hits, small_raw, blend) for qid, _, hits, small_raw, _ in cases}, metric)
    points = []
    for keep in usable:
        ranked, read = {}, 0
        for qid, _, hits, small_raw, main in cases:
            ranking = small_ranking(small_raw, [h.score for h in hits], blend)
            positions = kept_positions(ranking, keep)
            ranked[qid] = cascade_order_of_scores(hits, small_raw, ranking, positions, [main[p] for p in positions],
                                                  blend)
            read += len(positions)
        points.append(CascadePoint(keep, metric, _value(qrels, ranked, metric), small_ms + keep * per_pair, read))
    note = (f"Times per query: the reranker's is the median of the {len(fresh)} queries it scored afresh in the "
            f"evaluation ({per_pair:,.1f} ms a pair); the small reranker's the median of {len(small_times)} queries it "
            "scored afresh." if fresh else
            "The reranker's time is unknown: the score cache answered every pair of the evaluation, so the times "
            "shown are the small reranker's alone (python -m explorer bench-cascade times each M afresh).")
    return CascadeSweep(small.info.display_name, metric, full, alone, full_ms, small_ms, tuple(points), note)


def _fresh_times(small: LoadedModel, pipeline: RetrievalPipeline, queries: Sequence[tuple[str, Sequence[Hit]]],
                 clock: Callable[[], float]) -> list[float]:
    """The small reranker's milliseconds on each of a few (query, candidates), scored without the cache."""
    times = []
    for query, hits in queries:
        started = clock()
        score_pairs(small, query, pipeline.reranker_texts(query, hits), cache=None)
        times.append((clock() - started) * 1000)
    return times


def _value(qrels: dict, ranked: dict[str, list[str]], metric: str) -> float:
    return mean_metrics(qrels, ranked, [metric])[metric] if ranked else 0.0

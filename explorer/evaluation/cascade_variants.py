"""A full rerank's evaluation read again as if the reranker had read only the top M: one derived evaluation per M.

The Compare page puts these beside the configurations that ran, so M can be weighed against the other choices on the
same chart, with the same paired test. Nothing but the small reranker runs: an evaluation of the full rerank holds
the reranker's score of every candidate, and a cascade at M orders the candidates from those scores exactly as a
cascade search does (``explorer.evaluation.cascade_sweep.SweepCase``). Two kinds of filter choose the M:

- a small reranker reading every candidate first (the sidebar's cascade); its scores come through the score cache;
- the first stage's own order (no small pass): the reranker on the first stage's top M, the rest as they came.

Their reranking times are estimates, and each derived evaluation says so (``Evaluation.estimated``): M pairs at the
reranker's time per pair, plus the small reranker's median time per query where one filters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from explorer.evaluation.cascade_sweep import PairTime, SweepCase, reranker_pair_time, small_ms, sweep_cases, \
    usable_keeps
from explorer.evaluation.runner import Evaluation, QueryOutcome
from explorer.models.info import LoadedModel
from explorer.pipeline import RetrievalPipeline

FIRST_STAGE = "first stage"  # the filter's name when the first stage's order chooses the M the reranker reads
# the filter's name when a small reranker chooses them: one small reranker per comparison, named once in its note
# (its full name, often a folder's path, made every row's name and chart label too long to read)
SMALL = "small reranker"


@dataclass(frozen=True)
class CascadeVariants:
    """One full rerank's derived evaluations, one per M, and the times their estimates rest on."""

    evaluations: list[Evaluation]
    pair_time: PairTime  # the reranker's, per pair
    small_ms: float  # the small reranker's median pass per query (0: the first stage's order chose)


def cascade_variants(pipeline: RetrievalPipeline, evaluation: Evaluation, small: LoadedModel | None,
                     keeps: Sequence[int], per_pair: PairTime | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     clock: Callable[[], float] = time.perf_counter) -> CascadeVariants:
    """``evaluation`` (a full rerank) as a cascade at each M of ``keeps`` under its depth: ``small`` filters, or, when
    None, the first stage's order. ``per_pair``: the reranker's time per pair that the estimates use (None: as
    ``reranker_pair_time`` finds it)."""
    usable = usable_keeps(keeps, evaluation.config.depth)
    cases, small_times = sweep_cases(pipeline, evaluation, small, progress, clock)
    per_small = small_ms(small, pipeline, cases, small_times, clock)[0] if small is not None else 0.0
    pair_time = per_pair or reranker_pair_time(pipeline, evaluation, cases, clock)
    name = SMALL if small is not None else FIRST_STAGE
    return CascadeVariants([variant(evaluation, cases, keep, name, pair_time.ms, per_small) for keep in usable],
                           pair_time, per_small)


def variant(evaluation: Evaluation, cases: Sequence[SweepCase], keep: int, filter_name: str, per_pair_ms: float,
            small_ms_per_query: float) -> Evaluation:
    """``evaluation`` with each reranked list in the order of the cascade at ``keep`` over ``cases`` (one per
    reranked query; their ``small`` scores None: the first stage's order filters)."""
    by_query = {case.query_id: case for case in cases}
    blend = evaluation.config.blend
    outcomes = tuple(_outcome(outcome, by_query[outcome.query_id], keep, blend, per_pair_ms, small_ms_per_query)
                     if outcome.query_id in by_query else outcome for outcome in evaluation.outcomes)
    label = f"{filter_name} → top {keep}"
    small_part = (f" plus the small reranker's median {small_ms_per_query:,.0f} ms a query"
                  if small_ms_per_query else "")
    said = (f"{label}: ordered from the full rerank's scores; reranking time estimated as {keep} pairs at "
            f"{per_pair_ms:,.1f} ms{small_part}")
    return replace(evaluation, name=f"{evaluation.name} · {label}", outcomes=outcomes, cascade=label, estimated=said)


def _outcome(outcome: QueryOutcome, case: SweepCase, keep: int, blend: float, per_pair_ms: float,
             small_ms_per_query: float) -> QueryOutcome:
    """One query's outcome in the cascade's order, each document with the score that placed it (the reranker's where
    it read the document, else the filter's), like a cascade evaluation's."""
    order, positions = case.at_keep(keep, blend)
    below = case.small if case.small is not None else tuple(h.score for h in case.hits)
    value = {hit.doc_id: below[p] for p, hit in enumerate(case.hits)}
    for p in positions:
        value[case.hits[p].doc_id] = case.main[p]
    pairs = len(positions) + (len(case.hits) if case.small is not None else 0)
    return replace(outcome, reranked=tuple(order), reranker_scores=tuple(value[d] for d in order), probabilities=None,
                   rerank_ms=(small_ms_per_query if case.small is not None else 0.0) + len(positions) * per_pair_ms,
                   rerank_from_cache=0, rerank_pairs=pairs)

"""Signals on an evaluation: every query's final list reordered by a signal configuration, and a search of the
signals' weights on one split measured on another (tuned weights may not carry over, so both are shown).

Nothing is scored again: the lists and scores an evaluation kept are reordered. Signal values do not depend on the
weights, so the weight search reads them once per query and tries every weight on the grid with array arithmetic."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.evaluation.comparison import final_stage
from explorer.evaluation.runner import Evaluation, QueryOutcome
from explorer.records import Dataset
from explorer.retrieval.fusion import blend_scores
from explorer.signals.config import SignalConfig
from explorer.signals.diversity import Redundancy, mmr_order, redundancy
from explorer.signals.ranking import apply_signals, counted_value, metadata_lookup, normalised, signal_value

# vectors of documents by id, one row each (the bi-encoder's; see RetrievalPipeline.document_vectors)
VectorsOf = Callable[[Sequence[str]], np.ndarray]
# each signal's weight is tried at these values, keeping their sum at most MAX_SIGNAL_SHARE
WEIGHT_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
MAX_SIGNAL_SHARE = 0.9
REDUNDANCY_DEPTH = 10


@dataclass(frozen=True)
class QueryList:
    """One query's final list as an evaluation kept it: the documents in order and the scores relevance is read from
    (None: by rank, as for a cascade)."""

    query_id: str
    doc_ids: tuple[str, ...]
    scores: tuple[float, ...] | None


def final_lists(evaluation: Evaluation) -> list[QueryList]:
    """Each query's final list with its ranking scores: the reranked list (its blended score where blended, by rank
    for a cascade), else the first stage's."""
    lists = []
    for outcome in evaluation.outcomes:
        if outcome.reranked is None:
            lists.append(QueryList(outcome.query_id, outcome.first_stage, outcome.first_stage_scores))
        elif evaluation.cascade is not None or outcome.reranker_scores is None:
            lists.append(QueryList(outcome.query_id, outcome.reranked, None))
        else:
            lists.append(QueryList(outcome.query_id, outcome.reranked, _ranking_scores(outcome,
                                                                                      evaluation.config.blend)))
    return lists


def _ranking_scores(outcome: QueryOutcome, blend: float) -> tuple[float, ...]:
    """The scores the reranked list is ordered by, aligned with it: the raw ones, or their blend with the first
    stage's (computed as the pipeline does, over the candidates in first-stage order)."""
    raw = dict(zip(outcome.reranked or (), outcome.reranker_scores or ()))
    if blend >= 1.0:
        return tuple(raw[doc_id] for doc_id in outcome.reranked or ())
    candidates = list(outcome.first_stage)
    fused = dict(zip(candidates, blend_scores([raw[d] for d in candidates], list(outcome.first_stage_scores),
                                              blend)))
    return tuple(fused[doc_id] for doc_id in outcome.reranked or ())


def with_signals(evaluation: Evaluation, dataset: Dataset, config: SignalConfig,
                 vectors_of: VectorsOf | None = None) -> Evaluation:
    """``evaluation`` with each query's final list reordered by ``config`` (resolved against ``dataset`` here), named
    with the signals; MMR needs ``vectors_of``."""
    if not config.active:
        return evaluation
    resolved = config.resolved(dataset.documents)
    metadata_of = metadata_lookup(dataset.document)
    mmr = resolved.diversity is not None and resolved.diversity.mode == "mmr"
    if mmr and vectors_of is None:
        raise ConfigError("MMR diversity needs the bi-encoder's vectors of the documents; none were given.")
    stage = final_stage(evaluation)
    reordered = {}
    for item in final_lists(evaluation):
        vectors = vectors_of(item.doc_ids) if mmr and vectors_of is not None and item.doc_ids else None
        reordered[item.query_id] = apply_signals(item.doc_ids, item.scores, metadata_of, resolved, vectors).order
    outcomes = tuple(_reordered(outcome, reordered[outcome.query_id], stage) for outcome in evaluation.outcomes)
    return replace(evaluation, name=f"{evaluation.name} + signals ({resolved.describe()})", outcomes=outcomes,
                   signals=resolved.describe())


def _reordered(outcome: QueryOutcome, order: Sequence[str], stage: str) -> QueryOutcome:
    """The outcome with its ``stage`` list in ``order``; the scores follow their documents."""
    if stage == "first_stage":
        scores = dict(zip(outcome.first_stage, outcome.first_stage_scores))
        return replace(outcome, first_stage=tuple(order), first_stage_scores=tuple(scores[d] for d in order))
    position = {doc_id: index for index, doc_id in enumerate(outcome.reranked or ())}

    def follow(values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        return tuple(values[position[doc_id]] for doc_id in order) if values is not None else None

    return replace(outcome, reranked=tuple(order), reranker_scores=follow(outcome.reranker_scores),
                   probabilities=follow(outcome.probabilities))


@dataclass(frozen=True)
class _Prepared:
    """One query's inputs to the weight search: relevance (0-1), the signals' values (documents x signals, missing
    already counted as the signal counts it) and, for MMR, the documents' vectors."""

    query_id: str
    doc_ids: tuple[str, ...]
    relevance: np.ndarray
    values: np.ndarray
    vectors: np.ndarray | None


def _prepare(evaluation: Evaluation, dataset: Dataset, config: SignalConfig,
             vectors_of: VectorsOf | None) -> list[_Prepared]:
    """The weight search's inputs for every query of ``evaluation`` (``config`` resolved)."""
    metadata_of = metadata_lookup(dataset.document)
    mmr = config.diversity is not None and config.diversity.mode == "mmr"
    prepared = []
    for item in final_lists(evaluation):
        rows = []
        for doc_id in item.doc_ids:
            metadata = metadata_of(doc_id)
            rows.append([counted_value(signal, signal_value(signal, metadata)) for signal in config.signals])
        values = np.asarray(rows, dtype=np.float64).reshape(len(item.doc_ids), len(config.signals))
        vectors = vectors_of(item.doc_ids) if mmr and vectors_of is not None and item.doc_ids else None
        prepared.append(_Prepared(item.query_id, item.doc_ids,
                                  np.asarray(normalised(item.scores, len(item.doc_ids)), dtype=np.float64),
                                  values, vectors))
    return prepared


def _order(query: _Prepared, config: SignalConfig, weights: np.ndarray, depth: int | None) -> list[str]:
    """One query's order under ``weights`` (the per-parent cap and MMR as ``apply_signals`` does them); with
    ``depth``, MMR places only that many (enough for a metric at that depth)."""
    totals = (1.0 - weights.sum()) * query.relevance + query.values @ weights
    by_score = sorted(range(len(query.doc_ids)), key=lambda i: (-totals[i], i))
    step = config.diversity
    if step is None:
        return [query.doc_ids[i] for i in by_score]
    if step.mode == "per-parent":
        raise ConfigError("The weight search keeps MMR or no diversity; set the per-parent cap after it.")
    if query.vectors is None:
        raise ConfigError("MMR diversity needs the bi-encoder's vectors of the documents; none were given.")
    head = by_score[:depth] if depth else by_score
    # MMR's first picks come from the best by score; placing ``depth`` of them needs at most the whole list
    ordered = [by_score[i] for i in mmr_order([totals[p] for p in by_score], query.vectors[by_score], step.lambda_,
                                              limit=len(head))]
    rest = [p for p in by_score if p not in set(ordered)]
    return [query.doc_ids[i] for i in ordered + rest]


@dataclass(frozen=True)
class WeightTrial:
    """One point of the grid: the signals' weights and the metric on the split they were tuned on."""

    weights: tuple[float, ...]
    value: float


@dataclass(frozen=True)
class WeightSearch:
    """The best weights found on one split and what they do on another, beside relevance alone on both."""

    metric: str
    tuned_on: str
    measured_on: str
    best: SignalConfig
    relevance_only: dict[str, float]  # split -> mean metric, relevance alone
    with_signals: dict[str, float]  # split -> mean metric, with the best weights
    trials: tuple[WeightTrial, ...]  # every grid point, best first

    @property
    def carried_over(self) -> bool:
        """Whether the gain on the tuning split is still a gain (or no loss) on the other one."""
        return self.with_signals[self.measured_on] >= self.relevance_only[self.measured_on]

    def summary(self) -> str:
        """What the search found, in a sentence or two that never hides a loss on the measured split."""
        tuned, measured = self.tuned_on, self.measured_on
        gain_tuned = self.with_signals[tuned] - self.relevance_only[tuned]
        gain_measured = self.with_signals[measured] - self.relevance_only[measured]
        text = (f"Weights searched on {tuned} ({len(self.trials)} tried): {self.best.describe()}. {self.metric} on "
                f"{tuned}: {self.relevance_only[tuned]:.3f} with relevance alone, {self.with_signals[tuned]:.3f} "
                f"with the signals ({gain_tuned:+.3f}); on {measured}: {self.relevance_only[measured]:.3f} -> "
                f"{self.with_signals[measured]:.3f} ({gain_measured:+.3f}).")
        if gain_tuned <= 0:
            text += (f" Nothing on the grid beat relevance alone on {tuned}"
                     + (f" (the diversity step, {self.best.diversity.label}, is kept in every point)"
                        if self.best.diversity is not None else "") + ".")
        elif gain_measured < 0:
            text += " The tuned weights did not carry over: they lose on the split they were not tuned on."
        elif gain_measured < gain_tuned / 2:
            text += " Most of the gain on the tuning split did not carry over."
        return text


def weight_grid(count: int, grid: Sequence[float] = WEIGHT_GRID,
                max_share: float = MAX_SIGNAL_SHARE) -> list[tuple[float, ...]]:
    """Every combination of ``count`` weights from ``grid`` whose sum is at most ``max_share``."""
    return [combo for combo in itertools.product(grid, repeat=count) if sum(combo) <= max_share + 1e-9]


def search_weights(tune: Evaluation, measure: Evaluation, dataset: Dataset, config: SignalConfig,
                   metric: str = "ndcg@10", vectors_of: VectorsOf | None = None,
                   grid: Sequence[float] = WEIGHT_GRID) -> WeightSearch:
    """The grid point of the signals' weights with the best mean ``metric`` on ``tune``'s split (ties: the smaller
    total weight, then the earlier point), measured on ``measure``'s split too. The diversity step is kept as
    configured (MMR or none)."""
    if not config.signals:
        raise ConfigError("Add at least one signal (freshness, authority or a number) to search its weight.")
    if tune.config.split == measure.config.split:
        raise ConfigError("Tune the weights on one split and measure them on another (e.g. train and test).")
    resolved = config.resolved(dataset.documents)
    depth = _metric_depth(metric)
    tuned_lists = _prepare(tune, dataset, resolved, vectors_of)
    trials = []
    for weights in weight_grid(len(resolved.signals), grid):
        array = np.asarray(weights, dtype=np.float64)
        ranked = {q.query_id: _order(q, resolved, array, depth) for q in tuned_lists}
        trials.append(WeightTrial(tuple(weights), _mean(tune, ranked, metric)))
    trials.sort(key=lambda t: (-round(t.value, 12), sum(t.weights)))
    best = resolved.with_weights(trials[0].weights)
    relevance_only, signalled = {}, {}
    best_weights = np.asarray(trials[0].weights, dtype=np.float64)
    for evaluation, lists in ((tune, tuned_lists), (measure, _prepare(measure, dataset, resolved, vectors_of))):
        split = evaluation.config.split
        relevance_only[split] = _mean(evaluation, {q.query_id: list(q.doc_ids) for q in lists}, metric)
        signalled[split] = _mean(evaluation, {q.query_id: _order(q, best, best_weights, None) for q in lists}, metric)
    return WeightSearch(metric, tune.config.split, measure.config.split, best, relevance_only, signalled,
                        tuple(trials))


def _mean(evaluation: Evaluation, ranked: dict[str, list[str]], metric: str) -> float:
    """The mean of ``metric`` over the evaluation's queries for these lists (unjudged counted as the evaluation
    counts them)."""
    scored = replace(evaluation, outcomes=tuple(_reordered(o, ranked[o.query_id], final_stage(evaluation))
                                                for o in evaluation.outcomes))
    values = scored.stage_values(final_stage(scored), metric)
    return sum(values.values()) / len(values) if values else 0.0


def _metric_depth(metric: str) -> int | None:
    """The cut-off of a metric such as ndcg@10 (None: the whole list)."""
    _, _, depth = metric.partition("@")
    return int(depth) if depth.isdigit() else None


@dataclass(frozen=True)
class RedundancyFigures:
    """The mean over queries of each top list's redundancy (``explorer.signals.diversity.redundancy``)."""

    depth: int
    mean_pairwise_cosine: float
    distinct_parents: float
    parent_field: str  # "" : each document is its own parent


def redundancy_of(evaluation: Evaluation, dataset: Dataset, vectors_of: VectorsOf, parent_field: str = "",
                  depth: int = REDUNDANCY_DEPTH) -> RedundancyFigures:
    """How much the final top ``depth`` lists repeat themselves, on average over the queries."""
    found: list[Redundancy] = []
    for item in final_lists(evaluation):
        top = list(item.doc_ids[:depth])
        if not top:
            continue
        parents = [(dataset.document(d).metadata.get(parent_field) or d) if parent_field else d for d in top]
        found.append(redundancy(vectors_of(top), parents))
    if not found:
        raise ConfigError("No query has results to measure.")
    return RedundancyFigures(depth, float(np.mean([r.mean_pairwise_cosine for r in found])),
                             float(np.mean([r.distinct_parents for r in found])), parent_field)


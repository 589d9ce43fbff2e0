"""The cascade's benchmark: the main reranker on every candidate against a small reranker on every candidate and
the main one on the small one's top ``keep``, on a labelled split, at one depth.

Every timed run scores pairs afresh (no score cache), as a new query would: the main reranker on all candidates
(the full rerank), the small reranker on all candidates (once: it reads the same pairs whatever ``keep`` is), then
for each ``keep`` the main reranker on the pairs that ``keep`` hands it. A cascade at ``keep`` costs the small
run plus its own main run; its nDCG@10 is that of the order those scores give. The chosen point is the cheapest
whose nDCG@10 is within ``tolerance`` of the full rerank's, else the best nDCG@10 found (reported as such).

As the reference a small reranker must beat, the main reranker also reads only the first stage's own top ``keep``
(reranking depth ``keep``, the rest in the first stage's order): no small pass at all. Where the small reranker
orders candidates worse than the first stage does, this is both faster and better.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from explorer.errors import ConfigError
from explorer.evaluation.metrics import mean_metrics
from explorer.models.info import LoadedModel
from explorer.pipeline import RetrievalPipeline, cascade_order_of_scores, reranked_order
from explorer.records import Hit
from explorer.rerank.cascade import kept_positions, small_ranking
from explorer.rerank.scoring import score_pairs

Say = Callable[[str], None]
DEFAULT_KEEPS = (5, 10, 15, 20, 30, 50)
METRIC = "ndcg@10"


@dataclass(frozen=True)
class CascadePoint:
    """The cascade at one ``keep``: its quality and its cost, against the full rerank."""

    keep: int
    ndcg: float
    ms: float  # the small reranker's run plus the main reranker's on this keep, all queries
    pairs_read_by_main: int
    speedup: float  # the full rerank's time over this point's


@dataclass(frozen=True)
class CascadeBench:
    """The full rerank against the cascade at each ``keep`` on one data set's split."""

    data: str
    split: str
    queries: int
    depth: int
    main: str
    small: str
    blend: float
    ndcg_first_stage: float
    ndcg_full: float
    ndcg_small_alone: float
    full_ms: float
    small_ms: float
    pairs_full: int
    points: tuple[CascadePoint, ...]
    tolerance: float
    window: int | None = None  # document tokens both rerankers read (each document's best window); None: whole
    # with a window: the full rerank reading whole documents (from their start), the reference a user has today
    ndcg_full_whole: float | None = None
    full_whole_ms: float | None = None
    # the reference without a small model: the main reranker on the first stage's own top M (reranking depth M),
    # the rest in the first stage's order; what a small reranker must beat to be worth its pass
    first_stage_points: tuple[CascadePoint, ...] = ()

    @property
    def chosen(self) -> CascadePoint:
        """The cheapest point within ``tolerance`` of the full rerank's nDCG@10, else the one with the best nDCG@10."""
        return self._chosen(self.points)

    def _chosen(self, points: Sequence[CascadePoint]) -> CascadePoint:
        within = [p for p in points if p.ndcg >= self.ndcg_full - self.tolerance]
        if within:
            return max(within, key=lambda p: p.speedup)
        return max(points, key=lambda p: (p.ndcg, p.speedup))

    def to_json(self) -> dict[str, Any]:
        """The report's ``cascade`` entry for this data set: the chosen point first, then every point."""
        best = self.chosen
        return {
            "speedup": round(best.speedup, 2), "ndcg_full": round(self.ndcg_full, 4),
            "ndcg_cascade": round(best.ndcg, 4), "pairs_read_by_main": best.pairs_read_by_main,
            "keep": best.keep, "within_tolerance": best.ndcg >= self.ndcg_full - self.tolerance,
            "tolerance": self.tolerance, "data": self.data, "split": self.split, "queries": self.queries,
            "depth": self.depth, "main": self.main, "small": self.small, "blend": self.blend,
            "ndcg_first_stage": round(self.ndcg_first_stage, 4), "ndcg_small_alone": round(self.ndcg_small_alone, 4),
            "window": self.window, "full_ms": round(self.full_ms, 1),
            **({"ndcg_full_whole": round(self.ndcg_full_whole, 4), "full_whole_ms": round(self.full_whole_ms, 1),
                "speedup_vs_whole": round(self.full_whole_ms / max(best.ms, 1e-9), 2)}
               if self.ndcg_full_whole is not None and self.full_whole_ms is not None else {}), "small_ms": round(self.small_ms, 1), "pairs_full": self.pairs_full,
            "points": [_point_json(p) for p in self.points],
            **({"first_stage_top_m": self._first_stage_json()} if self.first_stage_points else {}),
        }

    def _first_stage_json(self) -> dict[str, Any]:
        best = self._chosen(self.first_stage_points)
        return {"keep": best.keep, "speedup": round(best.speedup, 2), "ndcg": round(best.ndcg, 4),
                "within_tolerance": best.ndcg >= self.ndcg_full - self.tolerance,
                "points": [_point_json(p) for p in self.first_stage_points]}


def _point_json(point: CascadePoint) -> dict[str, Any]:
    return {"keep": point.keep, "ndcg": round(point.ndcg, 4), "ms": round(point.ms, 1),
            "pairs_read_by_main": point.pairs_read_by_main, "speedup": round(point.speedup, 2)}


def bench_cascade(pipeline: RetrievalPipeline, main: LoadedModel, small: LoadedModel, split: str = "test",
                  depth: int = 100, keeps: Sequence[int] = DEFAULT_KEEPS, blend: float = 1.0,
                  tolerance: float = 0.005, say: Say = lambda text: None,
                  clock: Callable[[], float] = time.perf_counter) -> CascadeBench:
    """The full rerank and the cascade at each of ``keeps`` on ``split``'s labelled queries (dense first stage)."""
    dataset = pipeline.dataset
    queries = dataset.labelled_queries(split)
    if not queries:
        raise ConfigError(f"The cascade benchmark needs labelled queries; {dataset.name} has none in {split!r}.")
    usable = sorted({k for k in keeps if 1 <= k < depth})
    if not usable:
        raise ConfigError(f"No keep in {list(keeps)} is between 1 and the depth {depth}.")
    main.engine.settled()  # an int8 graph being made is waited for: every timed run uses the same stages
    small.engine.settled()
    cases = []
    for query in queries:
        hits, _, _ = pipeline.candidates(query.text, depth, "dense")
        cases.append((query.query_id, query.text, hits, pipeline.reranker_texts(query.text, hits)))
    qrels = {q: dict(v) for q, v in dataset.qrels_by_split[split].items()}
    pairs = sum(len(texts) for *_, texts in cases)
    say(f"cascade on {dataset.name} ({split}, {len(cases)} queries, depth {depth}): the main reranker on all "
        f"{pairs:,} pairs")
    full, full_ms = _scored(main, cases, None, clock)
    whole: tuple[float, float] | None = None
    if pipeline.window is not None:
        say(f"  the main reranker on all {pairs:,} pairs, reading whole documents (the reference without a window)")
        read_whole = [(qid, text, hits, [pipeline.candidate_text(h) for h in hits]) for qid, text, hits, _ in cases]
        scores_whole, whole_ms = _scored(main, read_whole, None, clock)
        whole = (_ndcg(qrels, {qid: reranked_order(hits, scores_whole[qid], blend) for qid, _, hits, _ in cases}), whole_ms)
    say(f"  the small reranker on all {pairs:,} pairs")
    small_scores, small_ms = _scored(small, cases, None, clock)
    first = {qid: [h.doc_id for h in hits] for qid, _, hits, _ in cases}
    rankings = {qid: small_ranking(small_scores[qid], [h.score for h in hits], blend) for qid, _, hits, _ in cases}
    ndcg_full = _ndcg(qrels, {qid: reranked_order(hits, full[qid], blend) for qid, _, hits, _ in cases})
    ndcg_small = _ndcg(qrels, {qid: reranked_order(hits, small_scores[qid], blend) for qid, _, hits, _ in cases})
    points = []
    for keep in usable:
        chosen = {qid: kept_positions(rankings[qid], keep) for qid, *_ in cases}
        read, main_ms = _scored(main, cases, chosen, clock)
        ranked = {}
        for qid, _, hits, _ in cases:
            ranked[qid] = cascade_order_of_scores(hits, small_scores[qid], rankings[qid], chosen[qid], read[qid], blend)
        cost = small_ms + main_ms
        point = CascadePoint(keep, _ndcg(qrels, ranked), cost, sum(len(p) for p in chosen.values()),
                             full_ms / max(cost, 1e-9))
        say(f"  keep {keep}: nDCG@10 {point.ndcg:.4f} (full {ndcg_full:.4f}), {point.speedup:.2f}x")
        points.append(point)
    first_stage_points = []
    for keep in usable:
        chosen = {qid: list(range(min(keep, len(hits)))) for qid, _, hits, _ in cases}
        read, main_ms = _scored(main, cases, chosen, clock)
        ranked = {qid: reranked_order(hits[:keep], read[qid], blend) + [h.doc_id for h in hits[keep:]]
                  for qid, _, hits, _ in cases}
        point = CascadePoint(keep, _ndcg(qrels, ranked), main_ms, sum(len(p) for p in chosen.values()),
                             full_ms / max(main_ms, 1e-9))
        say(f"  the first stage's top {keep} alone: nDCG@10 {point.ndcg:.4f}, {point.speedup:.2f}x")
        first_stage_points.append(point)
    return CascadeBench(dataset.name, split, len(cases), depth, main.info.loaded, small.info.loaded, blend,
                        _ndcg(qrels, first), ndcg_full, ndcg_small, full_ms, small_ms, pairs, tuple(points), tolerance,
                        pipeline.window.max_tokens if pipeline.window is not None else None,
                        *(whole if whole is not None else (None, None)), tuple(first_stage_points))


def _scored(model: LoadedModel, cases: Sequence[tuple[str, str, Sequence[Hit], list[str]]],
            chosen: dict[str, list[int]] | None, clock: Callable[[], float]) -> tuple[dict[str, list[float]], float]:
    """``model``'s scores per query (of the ``chosen`` positions, else of every candidate), scored afresh, and the
    milliseconds all of them took."""
    scores: dict[str, list[float]] = {}
    started = clock()
    for qid, query, _, texts in cases:
        wanted = texts if chosen is None else [texts[p] for p in chosen[qid]]
        scores[qid] = [float(s) for s in score_pairs(model, query, wanted, cache=None).raw]
    return scores, (clock() - started) * 1000


def _ndcg(qrels: dict[str, dict[str, int]], ranked: dict[str, list[str]]) -> float:
    return mean_metrics(qrels, ranked, [METRIC])[METRIC]

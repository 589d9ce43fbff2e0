"""Quality and cost against the candidate depth k: how deep is it worth reranking?

Quality at every depth comes from one evaluation at the largest depth (a cross-encoder scores each pair on
its own, see ``rerank_at_depth``). Latency is measured: a few queries are run again at each depth.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

from explorer.errors import ConfigError
from explorer.evaluation.metrics import mean_metrics
from explorer.evaluation.runner import Evaluation, rerank_at_depth
from explorer.pipeline import RetrievalPipeline

DEFAULT_DEPTHS = (10, 20, 50, 100, 200)


@dataclass(frozen=True)
class DepthPoint:
    """One candidate depth: the metric for both stages, and the median reranking and total time per query in ms."""

    depth: int
    metric: str
    first_stage: float
    reranked: float
    rerank_ms: float  # median over the timed queries
    total_ms: float
    timed_queries: int


def depth_sweep(pipeline: RetrievalPipeline, evaluation: Evaluation, depths: Sequence[int] = DEFAULT_DEPTHS,
                metric: str = "ndcg@10", timed_queries: int = 10,
                progress: Callable[[int, int], None] | None = None) -> list[DepthPoint]:
    """A point per depth of ``depths`` within the evaluated depth, shallowest first (raises without a reranker).

    Latency is the median over the first ``timed_queries`` queries, run again without the score cache."""
    if not evaluation.has_reranker:
        raise ConfigError("The depth sweep needs a reranker; choose one and evaluate again.")
    if evaluation.cascade:
        raise ConfigError("The depth sweep re-ranks the reranker's scores at each depth, and a cascade's reranker read "
                          f"only part of them ({evaluation.cascade}). Turn the cascade off in the sidebar to sweep "
                          "the depth.")
    deepest = evaluation.config.depth
    usable = sorted({d for d in depths if 1 <= d <= deepest})
    if not usable:
        raise ConfigError(f"No depth in {list(depths)} is within the evaluated depth {deepest}; "
                          f"evaluate at depth {max(depths)} first.")
    config = evaluation.config
    timed = [evaluation.query_texts[o.query_id] for o in evaluation.outcomes[:max(timed_queries, 0)]]
    # The evaluation already scored these pairs; timing them from the score cache would say depth costs nothing.
    pipeline = pipeline.uncached()
    points = []
    for step, depth in enumerate(usable, start=1):
        first = {o.query_id: list(o.first_stage[:depth]) for o in evaluation.outcomes}
        reranked = {o.query_id: rerank_at_depth(o, depth, config.blend) for o in evaluation.outcomes}
        rerank_ms, total_ms = [], []
        for text in timed:
            result = pipeline.search(text, depth=depth, blend=config.blend, first_stage_method=config.first_stage_method)
            rerank_ms.append(result.timings.reranking_ms)
            total_ms.append(result.timings.total_ms)
        points.append(DepthPoint(
            depth=depth, metric=metric,
            first_stage=mean_metrics(evaluation.qrels, first, [metric])[metric],
            reranked=mean_metrics(evaluation.qrels, reranked, [metric])[metric],
            rerank_ms=statistics.median(rerank_ms) if rerank_ms else 0.0,
            total_ms=statistics.median(total_ms) if total_ms else 0.0,
            timed_queries=len(timed),
        ))
        if progress is not None:
            progress(step, len(usable))
    return points

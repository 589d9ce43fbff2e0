"""Held-out evaluation of a reranker: nDCG@10 of the first stage, the reranker alone, and blends of the two."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from explorer.evaluation.metrics import mean_metrics
from explorer.pipeline import RetrievalPipeline
from explorer.records import Dataset

BLENDS = (1.0, 0.7, 0.5, 0.3)


def held_out_ndcg(dataset: Dataset, split: str, pipeline: RetrievalPipeline, depth: int = 100,
                  blends: Sequence[float] = BLENDS,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """{"first stage": x, "reranked": y, "blend 0.5": z, ...} over the labelled queries of ``split``.

    The reranker scores each query's candidates once; the blends reorder those same scores."""
    from explorer.rerank.scoring import order_by_score
    from explorer.retrieval.fusion import blend_scores

    qrels = dataset.qrels_by_split.get(split, {})
    queries = dataset.labelled_queries(split)
    runs: dict[str, dict[str, list[str]]] = {"first stage": {}}
    for done, query in enumerate(queries, start=1):
        result = pipeline.search(query.text, depth=depth)
        runs["first stage"][query.query_id] = [h.doc_id for h in result.first_stage]
        if result.reranked is not None:
            by_first = sorted(result.reranked, key=lambda h: h.first_stage_rank)
            raw = [h.score for h in by_first]
            first = [h.first_stage_score for h in by_first]
            for weight in blends:
                scores = raw if weight == 1.0 else blend_scores(raw, first, weight)
                name = "reranked" if weight == 1.0 else f"blend {weight:g}"
                runs.setdefault(name, {})[query.query_id] = [by_first[i].doc_id for i in order_by_score(scores)]
        if progress is not None:
            progress(done, len(queries))
    return {name: round(mean_metrics(qrels, run, ["ndcg@10"])["ndcg@10"], 4) for name, run in runs.items()}


def best_blend(scores: dict[str, Any]) -> float:
    """The reranker weight with the best held-out nDCG@10 (1.0 = the reranker alone)."""
    candidates = {1.0: scores.get("reranked", -1.0)}
    candidates.update({float(name.split()[1]): value for name, value in scores.items() if name.startswith("blend ")})
    return max(candidates, key=lambda weight: (candidates[weight], weight))

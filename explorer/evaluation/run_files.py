"""TREC run files: what trec_eval, ranx and ir_measures read back."""

from __future__ import annotations

from explorer.evaluation.runner import Evaluation


def trec_run(evaluation: Evaluation, stage: str, tag: str | None = None) -> str:
    """Six columns per line: query id, Q0, document id, rank, score, run tag (scores descend with rank)."""
    evaluation.ranked(stage)  # raises a clear error for a stage that did not run
    tag = (tag or f"{evaluation.config.first_stage_method}-{stage}").replace(" ", "_")
    lines = []
    for outcome in evaluation.outcomes:
        if stage == "reranked":
            ids, scores = outcome.reranked or (), outcome.reranker_scores or ()
            if evaluation.config.blend < 1.0:  # the order is the blend's; write rank-derived scores to keep it
                scores = tuple(float(len(ids) - i) for i in range(len(ids)))
        else:
            ids, scores = outcome.first_stage, outcome.first_stage_scores
        lines += [f"{outcome.query_id} Q0 {doc_id} {rank} {score:.6f} {tag}"
                  for rank, (doc_id, score) in enumerate(zip(ids, scores), start=1)]
    return "\n".join(lines) + "\n"

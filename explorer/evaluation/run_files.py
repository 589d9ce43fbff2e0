"""TREC run files: what trec_eval, ranx and ir_measures read back.

A run line is six fields split on white space, so an id holding a space or a tab would read as more fields.
Such ids are written with the white space (and ``%``, so the mapping can be undone) percent-encoded:
``a b`` becomes ``a%20b``. ``escaped_ids`` names them, so the page and the command line can say so.
"""

from __future__ import annotations

import re

from explorer.evaluation.runner import Evaluation

_UNSAFE = re.compile(r"[\s%]")


def run_id(raw: str) -> str:
    """``raw`` as one field of a run line: white space and ``%`` percent-encoded (UTF-8), the rest as it is."""
    return _UNSAFE.sub(lambda match: "".join(f"%{byte:02X}" for byte in match.group().encode()), raw)


def escaped_ids(evaluation: Evaluation, stage: str) -> list[str]:
    """The query and document ids of ``stage`` that ``trec_run`` writes percent-encoded, in first-seen order."""
    seen: dict[str, None] = {}
    for query_id, doc_ids in evaluation.ranked(stage).items():
        for raw in (query_id, *doc_ids):
            if _UNSAFE.search(raw):
                seen.setdefault(raw)
    return list(seen)


def trec_run(evaluation: Evaluation, stage: str, tag: str | None = None) -> str:
    """Six columns per line: query id, Q0, document id, rank, score, run tag (scores descend with rank)."""
    evaluation.ranked(stage)  # raises a clear error for a stage that did not run
    tag = run_id(tag or f"{evaluation.config.first_stage_method}-{stage}").replace("%20", "_")
    lines = []
    for outcome in evaluation.outcomes:
        if stage == "reranked":
            ids, scores = outcome.reranked or (), outcome.reranker_scores or ()
            if evaluation.config.blend < 1.0:  # the order is the blend's; write rank-derived scores to keep it
                scores = tuple(float(len(ids) - i) for i in range(len(ids)))
        else:
            ids, scores = outcome.first_stage, outcome.first_stage_scores
        lines += [f"{run_id(outcome.query_id)} Q0 {run_id(doc_id)} {rank} {score:.6f} {tag}"
                  for rank, (doc_id, score) in enumerate(zip(ids, scores), start=1)]
    return "\n".join(lines) + "\n"

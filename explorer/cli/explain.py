"""``python -m explorer explain``: which explanation the reranker's score follows, over a labelled split.

For the reranked top result of each query, every method's deletion curve (``explorer.explain.faithfulness``); printed
as each method's mean deletion AUC (lower: more faithful) and the share of queries where it beats a random order.
"""

from __future__ import annotations

import argparse
import sys

from explorer.cli.output import emit, say, write_json
from explorer.errors import ConfigError
from explorer.settings import Settings


def explain(args: argparse.Namespace) -> int:
    """Runs the deletion curves and prints the table of methods; writes the JSON asked for."""
    from explorer.cli.search import labelled_evaluation, open_from
    from explorer.explain.faithfulness import METHODS, explain_top_results, summarize
    from explorer.explain.gradients import GradientExplainer
    from explorer.time_left import Pace

    settings = Settings.from_env()
    opened = open_from(args, settings)
    if opened.reranker is None:
        raise ConfigError("explain explains a reranker's scores; name one with --reranker (not 'none').")
    evaluation, _ = labelled_evaluation(args, opened, settings, args.split)
    dataset = opened.pipeline.dataset
    chosen = []
    for outcome in evaluation.outcomes[: args.queries]:
        ranked = outcome.reranked or outcome.first_stage
        if ranked:
            doc_id = ranked[0]
            chosen.append((outcome.query_id, evaluation.query_texts[outcome.query_id], doc_id,
                           dataset.document(doc_id).full_text))
    if not chosen:
        raise ConfigError(f"No query of the split {args.split!r} has a result to explain.")
    gradients = GradientExplainer(opened.reranker)
    pace = Pace("pairs")

    def progress(done: int, total: int) -> None:
        print(f"\rexplaining {pace.status(done, total):<48}", end="" if done < total else "\n", file=sys.stderr,
              flush=True)

    pairs = explain_top_results(opened.reranker, chosen, gradients=gradients, seed=args.seed,
                                ig_steps=args.ig_steps, progress=progress)
    summary = summarize(pairs)
    emit(f"deletion AUC of each method's word ranking, the top result of {summary.queries} queries "
         f"(lower is more faithful; {summary.flat} pair(s) whose score did not move left out)")
    emit(f"{'method':<22}{'mean AUC':>10}{'beats random':>14}")
    for method in METHODS:
        if method in summary.methods:
            figures = summary.methods[method]
            emit(f"{method:<22}{figures.deletion_auc:>10.3f}{figures.beats_random:>14.0%}")
    gaps = [abs(p.completeness_gap) for p in pairs if p.completeness_gap is not None]
    if gaps:
        say(f"integrated gradients: largest completeness gap {max(gaps):.4f} (logits), over {len(gaps)} pairs")
    if args.json:
        data = summary.to_json()
        data["pairs"] = [{"query_id": p.query_id, "doc_id": p.doc_id, "words": p.words,
                          "completeness_gap": p.completeness_gap, "follows": p.follows(),
                          "auc": {m: c.auc for m, c in (p.curves or {}).items()}} for p in pairs]
        write_json(data, args.json, "explanations")
    return 0

"""``python -m explorer story``: the gain of a candidate over a baseline on a labelled split, as the Story page tells
it.

The two sides are the first stage and the reranked list of the pipeline the options name (evaluated, or read back
from the kept evaluation), or two saved snapshots (``--snapshot A --against B``: A is the candidate).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.cli.output import emit, say, write_json
from explorer.errors import ConfigError
from explorer.settings import Settings

if TYPE_CHECKING:
    from explorer.evaluation.runner import Evaluation
    from explorer.evaluation.story import StorySide


def story(args: argparse.Namespace) -> int:
    """Prints the headline, the verdict and the examples; writes the JSON and the report asked for."""
    from explorer.evaluation.story import stage_sides, story_json, tell
    from explorer.evaluation.story_report import story_report
    from explorer.loading import load_beir
    from explorer.remote.prices import price_table, pricing

    settings = Settings.from_env()
    if bool(args.snapshot) != bool(args.against):
        raise ConfigError("--snapshot A and --against B go together (A the candidate, B the baseline); give both, or "
                          "neither to compare the two stages of one pipeline.")
    if args.snapshot:
        from explorer.evaluation.snapshots import SnapshotStore

        store = SnapshotStore(settings.snapshots_path)
        candidate_saved, baseline_saved = store.get(args.snapshot), store.get(args.against)
        baseline = _snapshot_side(baseline_saved.evaluation, args.against)
        candidate = _snapshot_side(candidate_saved.evaluation, args.snapshot)
        dataset = load_beir(Path(args.data))
        reranker = None  # snapshots carry results, not models: the report's examples are not explained
        if baseline.evaluation.config.split != candidate.evaluation.config.split:
            say(f"note: the snapshots were evaluated on different splits ({baseline.evaluation.config.split}, "
                f"{candidate.evaluation.config.split}); the story reads the queries they share")
    else:
        from explorer.cli.search import labelled_evaluation, open_from

        opened = open_from(args, settings)
        evaluation, _ = labelled_evaluation(args, opened, settings, args.split)
        baseline, candidate = stage_sides(evaluation)
        dataset = opened.pipeline.dataset
        reranker = opened.reranker
    result = tell(baseline, candidate, args.metric, relevant_grade=args.relevant_grade, titles=dataset.title_of,
                  seed=args.seed, price=pricing(price_table(settings)))
    emit(result.headline)
    emit(result.verdict)
    if result.note:
        emit(f"models: {result.note}")
    if result.coverage_warning:
        emit(f"caveat: {result.coverage_warning}")
    for example in result.examples:
        emit(f"  {example.kind:<4} {example.change:+.3f}  [{example.query_id}] {example.query[:80]}")
    for name, cost in ((result.baseline, result.baseline_cost), (result.candidate, result.candidate_cost)):
        emit(f"cost of {name}: median {cost.median_ms:.1f} ms a query (p95 {cost.p95_ms:.1f}), "
             f"{cost.pairs_per_query:.0f} pairs scored a query, {cost.seconds_per_1000:.1f} s per 1,000 queries"
             + (f", ${cost.usd_per_1000:,.2f} per 1,000 queries" if cost.usd_per_1000 is not None else ""))
    if args.json:
        write_json(story_json(result), args.json, "story")
    if args.report:
        explained = None
        if reranker is not None:  # the examples' top results explained by the reranker that ranked them
            from explorer.evaluation.story_report import example_explanations
            from explorer.explain.faithfulness import engine_scorer

            explained = example_explanations(result, engine_scorer(reranker),
                                             lambda doc_id: dataset.document(doc_id).full_text)
        Path(args.report).write_text(story_report(result, dataset.grade_scale, candidate.evaluation.query_texts,
                                                  explanations=explained), encoding="utf-8")
        say(f"story written to {args.report}")
    return 0


def _snapshot_side(evaluation: Evaluation, name: str) -> StorySide:
    """A snapshot's final list (reranked where a reranker ran) as one side of the story."""
    from explorer.evaluation.story import StorySide

    stage = "reranked" if evaluation.has_reranker else "first_stage"
    return StorySide(evaluation, stage, name)

"""``signals``: the --signal weights searched on one labelled split and measured on another, with the redundancy of
the top 10 with and without the diversity step."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

from explorer.cli.output import emit, say, write_json
from explorer.cli.search import labelled_evaluation, open_from
from explorer.errors import ConfigError
from explorer.settings import Settings


def signals(args: argparse.Namespace) -> int:
    """Searches the weights of the --signal options on --tune-split, measures them on --split, and prints both."""
    from explorer.evaluation.signalled import redundancy_of, search_weights, with_signals
    from explorer.judging.datasets import dataset_key, with_judgements
    from explorer.judging.store import JudgementStore

    settings = Settings.from_env()
    opened = open_from(args, settings)
    config = opened.spec.signals
    if config is None or not config.signals:
        raise ConfigError("Give the signals to weigh with --signal, e.g. --signal freshness:updated:90d:0.1 "
                          "--signal authority:status:0.1:current=1,draft=0.3,archived=0.")
    plain = replace(opened, spec=replace(opened.spec, signals=None))
    tune, _ = labelled_evaluation(args, plain, settings, args.tune_split)
    measure, _ = labelled_evaluation(args, plain, settings, args.split)
    dataset = with_judgements(opened.pipeline.dataset, JudgementStore(settings.judgements_path),
                              dataset_key(args.data))
    vectors = opened.pipeline.document_vectors
    found = search_weights(tune, measure, dataset, config, args.metric, vectors)
    emit(found.summary())
    best_trials = ", ".join(f"{t.weights} {t.value:.4f}" for t in found.trials[:5])
    say(f"best grid points on {args.tune_split} (weights in --signal order, {args.metric}): {best_trials}")
    without_diversity = replace(found.best, diversity=None)
    figures = {"relevance only": redundancy_of(measure, dataset, vectors, args.parent_field),
               "signals": redundancy_of(with_signals(measure, dataset, without_diversity, vectors), dataset, vectors,
                                        args.parent_field)}
    if found.best.diversity is not None:
        figures["signals + " + found.best.diversity.label] = redundancy_of(
            with_signals(measure, dataset, found.best, vectors), dataset, vectors, args.parent_field)
    parent = args.parent_field or "document"
    for name, figure in figures.items():
        emit(f"redundancy of the top {figure.depth} on {args.split}, {name}: mean pairwise cosine "
             f"{figure.mean_pairwise_cosine:.3f}, distinct {parent}s {figure.distinct_parents:.2f}")
    if args.json:
        write_json({"metric": found.metric, "tuned_on": found.tuned_on, "measured_on": found.measured_on,
                    "best": found.best.to_json(), "best_described": found.best.describe(),
                    "relevance_only": found.relevance_only, "with_signals": found.with_signals,
                    "carried_over": found.carried_over, "trials": [asdict(t) for t in found.trials],
                    "redundancy": {name: asdict(figure) for name, figure in figures.items()}},
                   args.json, "signals")
    return 0

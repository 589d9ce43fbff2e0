"""``export``: the pipeline the options name, written as a pipeline file, with the threshold and the evaluation it
was chosen with."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.cli.output import say
from explorer.cli.search import labelled_evaluation, open_from
from explorer.errors import ConfigError
from explorer.settings import Settings
from explorer.spec import OpenPipeline

if TYPE_CHECKING:
    from explorer.evaluation.runner import Evaluation
    from explorer.evaluation.score_calibration import Calibration
    from explorer.export.pipeline_file import Measured

CALIBRATION_TOP_N = 10  # results per query a calibration is fitted on: the explorer's default n


def export(args: argparse.Namespace) -> int:
    """Opens the pipeline, measures it (``--measure SPLIT``) or takes a snapshot's figures, and writes the file."""
    from explorer.export.pipeline_file import Measured, Threshold, pipeline_file, write_pipeline_file

    settings = Settings.from_env()
    if args.measure and args.snapshot:
        raise ConfigError("Give --measure SPLIT (evaluate now) or --snapshot NAME (a saved evaluation), not both.")
    if args.calibration_split and not args.calibrate:
        raise ConfigError("--calibration-split names where a calibration is fitted; add --calibrate platt (or "
                          "isotonic).")
    opened = open_from(args, settings)
    if args.calibrate and opened.reranker is None:
        raise ConfigError("--calibrate maps reranker scores to a probability; this pipeline has no reranker. "
                          "Choose one with --reranker, or leave out --calibrate.")
    threshold = Threshold(args.threshold, args.threshold_scale) if args.threshold is not None else None
    measured, result = None, None
    if args.measure:
        result, version = labelled_evaluation(args, opened, settings, args.measure)
        measured = Measured.of(result, f"evaluated on export ({len(result.outcomes)} queries)", version)
    elif args.snapshot:
        measured = _snapshot_measured(args.snapshot, opened, settings)
    calibration = _calibration(args, opened, settings, result) if args.calibrate else None
    written = write_pipeline_file(pipeline_file(opened, threshold, measured, calibration), Path(args.out))
    say(f"pipeline file written to {written}" + ("" if measured else " (no measured quality: add --measure SPLIT)"))
    return 0


def _calibration(args: argparse.Namespace, opened: OpenPipeline, settings: Settings,
                 measured_on: Evaluation | None) -> Calibration:
    """The calibration ``--calibrate`` asks for, fitted on ``--calibration-split``; with its Brier score and calibration
    error on the ``--measure`` split when that is another split (the figures are printed, not stored)."""
    from explorer.evaluation.score_calibration import calibrate, calibration_pairs, fit_calibration

    split = args.calibration_split or "train"
    fit_on, _ = labelled_evaluation(args, opened, settings, split)
    if measured_on is not None and measured_on.config.split != split:
        report = calibrate(fit_on, measured_on, args.calibrate, top_n=CALIBRATION_TOP_N)
        before = (f"; the reranker's own probability: Brier {report.before.brier:.4f}, ECE {report.before.ece:.4f}"
                  if report.before else "")
        say(f"calibration ({args.calibrate}, fitted on {report.calibration.pairs} results of '{split}') measured on "
            f"the held-out split '{report.held_out_split}' ({report.after.pairs} results): Brier "
            f"{report.after.brier:.4f}, expected calibration error {report.after.ece:.4f} (always answering the "
            f"share relevant: Brier {report.no_skill_brier:.4f}){before}")
        return report.calibration
    raw, relevant = calibration_pairs(fit_on, CALIBRATION_TOP_N)
    calibration = fit_calibration(raw, relevant, args.calibrate, split=split, top_n=CALIBRATION_TOP_N,
                                  reranker=fit_on.reranker or "")
    say(f"calibration ({args.calibrate}) fitted on {calibration.pairs} results of '{split}'; not measured on held-out "
        "queries: add --measure with another labelled split")
    return calibration


def _snapshot_measured(name: str, opened: OpenPipeline, settings: Settings) -> Measured:
    """A snapshot's figures, refused when the snapshot evaluated another configuration than the one exported."""
    from explorer.evaluation.snapshots import SnapshotStore
    from explorer.export.pipeline_file import Measured

    snapshot = SnapshotStore(settings.snapshots_path).get(name)
    config, spec = snapshot.evaluation.config, opened.spec
    reranker = opened.reranker.info.loaded if opened.reranker is not None else None
    found = {"first stage": (config.first_stage_method, spec.first_stage_method), "depth": (config.depth, spec.depth),
             "reranker": (snapshot.evaluation.reranker if config.rerank else None, reranker),
             "blend": (round(config.blend, 6) if config.rerank else None,
                       round(opened.blend, 6) if reranker else None)}
    differ = [f"{what} {theirs} (snapshot) vs {ours} (exported)" for what, (theirs, ours) in found.items()
              if theirs != ours]
    if differ:
        raise ConfigError(f"The snapshot {name!r} evaluated another configuration: " + "; ".join(differ)
                          + ". Export with the snapshot's options, or use --measure SPLIT.")
    return Measured.of(snapshot.evaluation, f"snapshot {name}", snapshot.label_version)

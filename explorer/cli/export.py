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
    from explorer.export.pipeline_file import Measured


def export(args: argparse.Namespace) -> int:
    """Opens the pipeline, measures it (``--measure SPLIT``) or takes a snapshot's figures, and writes the file."""
    from explorer.export.pipeline_file import Measured, Threshold, pipeline_file, write_pipeline_file

    settings = Settings.from_env()
    if args.measure and args.snapshot:
        raise ConfigError("Give --measure SPLIT (evaluate now) or --snapshot NAME (a saved evaluation), not both.")
    opened = open_from(args, settings)
    threshold = Threshold(args.threshold, args.threshold_scale) if args.threshold is not None else None
    measured = None
    if args.measure:
        result, version = labelled_evaluation(args, opened, settings, args.measure)
        measured = Measured.of(result, f"evaluated on export ({len(result.outcomes)} queries)", version)
    elif args.snapshot:
        measured = _snapshot_measured(args.snapshot, opened, settings)
    written = write_pipeline_file(pipeline_file(opened, threshold, measured), Path(args.out))
    say(f"pipeline file written to {written}" + ("" if measured else " (no measured quality: add --measure SPLIT)"))
    return 0


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

"""Command line: the same engine as the pages, for batch work. `python -m explorer --help`.

Each command lives in the module named for what it does (``search``: index, search and eval; ``data``: load;
``models``: build-default-reranker and train; ``bench``); ``arguments`` holds the parser.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

from explorer.cli import bench, data, explain, export, judgements, models, search, serve, signals, snapshots, story
from explorer.cli.arguments import build_parser
from explorer.cli.output import results_apart
from explorer.errors import ExplorerError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "load": data.load, "build-default-reranker": models.build_default,
    "build-small-reranker": models.build_small, "train": models.train, "bench": bench.bench,
    "bench-sessions": bench.bench_sessions, "bench-serve": bench.bench_serve, "bench-scale": bench.bench_scale,
    "bench-cascade": bench.bench_cascade,
    "index": search.index, "search": search.search, "eval": search.evaluate, "judgements": judgements.judgements,
    "snapshots": snapshots.snapshots, "story": story.story, "explain": explain.explain, "export": export.export,
    "serve": serve.serve, "signals": signals.signals,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; an error the explorer explains is printed on one line (exit status 2), not a traceback.
    Only the command's results reach stdout; whatever libraries print while it runs goes to stderr."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with results_apart():
            return COMMANDS[args.command](args)
    except ExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

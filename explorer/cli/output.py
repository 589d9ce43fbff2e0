"""What the commands print: results on stdout, progress and notes on stderr, JSON to a file or stdout."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Iterator, TextIO

# Where results go: the process's stdout, kept here while a command runs with sys.stdout pointed at stderr, so
# that whatever a library prints (NNCF's and Hugging Face's progress bars, notes) never mixes with a result that
# another program reads (`search --json | jq`).
_results: TextIO | None = None


@contextlib.contextmanager
def results_apart() -> Iterator[None]:
    """For one command: ``emit`` writes to stdout, everything else printed to sys.stdout goes to stderr."""
    global _results
    saved = sys.stdout
    _results, sys.stdout = saved, sys.stderr
    try:
        yield
    finally:
        sys.stdout, _results = saved, None


def emit(text: str = "", end: str = "\n") -> None:
    """A result (a table, a line of figures, JSON) on stdout, even while a command runs inside ``results_apart``."""
    stream = _results if _results is not None else sys.stdout
    stream.write(text + end)
    stream.flush()


def write_json(data: object, target: str, what: str) -> None:
    """``data`` as JSON to the file ``target``, or to stdout when it is "-"."""
    from pathlib import Path

    text = json.dumps(data, indent=1)
    if target == "-":
        emit(text)
        return
    Path(target).write_text(text + "\n", encoding="utf-8")
    say(f"{what} written to {target}")


def say(text: str) -> None:
    """``text`` on stderr, flushed at once: progress and notes, kept apart from results on stdout."""
    print(text, file=sys.stderr, flush=True)


def show_progress(done: int, total: int, what: str) -> None:
    """A step's progress on one line of stderr, ended when the step is done."""
    print(f"\r{what.lower()}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

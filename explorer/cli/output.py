"""What the commands print: results on stdout, progress and notes on stderr, JSON to a file or stdout."""

from __future__ import annotations

import json
import sys


def write_json(data: object, target: str, what: str) -> None:
    """``data`` as JSON to the file ``target``, or to stdout when it is "-"."""
    from pathlib import Path

    text = json.dumps(data, indent=1)
    if target == "-":
        print(text)
        return
    Path(target).write_text(text + "\n", encoding="utf-8")
    say(f"{what} written to {target}")


def say(text: str) -> None:
    """``text`` on stderr, flushed at once: progress and notes, kept apart from results on stdout."""
    print(text, file=sys.stderr, flush=True)


def show_progress(done: int, total: int, what: str) -> None:
    """A step's progress on one line of stderr, ended when the step is done."""
    print(f"\r{what.lower()}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

"""Problems found while loading data: each names the file and line, and says how to fix it.

Fatal problems raise ``DataLoadError`` and stop the load. The others are collected as warnings: the load
goes on and the page lists them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable

from explorer.errors import DataLoadError

# Warnings of one kind listed one by one; past this they are only counted.
LISTED_PER_KIND = 20
# The load options a message may tell the user to set, named as both doors (the page and the command line) name
# them, so that both give the same message.
COLUMN_OPTIONS = "the column pickers on the page; --text-column, --id-column and --title-column on the command line"
TEXT_COLUMN_OPTION = "the Text column picker on the page, --text-column on the command line"
DELIMITER_OPTION = "the Delimiter choice on the page, --delimiter on the command line"


@dataclass(frozen=True)
class Problem:
    """One problem met while loading: its kind, where it is (file, and line when known) and what to do about it."""

    kind: str  # short, stable name, e.g. "duplicate id"
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class ProblemLog:
    """Collects warnings during a load; ``fatal`` raises at once. ``progress(done, total)`` sees bytes read."""

    def __init__(self, progress: Callable[[int, int], None] | None = None) -> None:
        self.listed: list[Problem] = []
        self.counts: Counter[str] = Counter()
        self.progress = progress

    def warn(self, kind: str, file: str, line: int | None, message: str) -> None:
        """Counts a warning of ``kind``; only the first ``LISTED_PER_KIND`` of each kind are listed."""
        self.counts[kind] += 1
        if self.counts[kind] <= LISTED_PER_KIND:
            self.listed.append(Problem(kind, file, line, message))

    @staticmethod
    def fatal(file: str, line: int | None, message: str) -> DataLoadError:
        """Build the error to raise: ``raise log.fatal(...)``."""
        return DataLoadError(str(Problem("fatal", file, line, message)))

    def unlisted(self) -> dict[str, int]:
        """How many warnings of each kind were counted but not listed."""
        return {kind: n - LISTED_PER_KIND for kind, n in self.counts.items() if n > LISTED_PER_KIND}

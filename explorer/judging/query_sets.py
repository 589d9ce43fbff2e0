"""A query set to judge, read from a file of queries (a query log, a list of questions), optionally sampled.

A plain text file holds one query per line. A CSV (or TSV) file holds the query in a column named ``query``,
``text``, ``question`` or ``q`` (any case), else in its first column; a header row is recognised by that name.
Blank lines and repeats (up to spacing and case) are dropped; a sample of N is drawn with a fixed seed, so the
same file and N give the same queries on every machine.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

from explorer.errors import ConfigError

QUERY_COLUMNS = ("query", "text", "question", "q")
MAX_QUERY_CHARS = 2_000  # longer lines are not queries: the file is probably not a query list
MAX_QUERIES = 100_000


@dataclass(frozen=True)
class QuerySet:
    """The queries read from a file, after dropping blanks and repeats and sampling."""

    queries: tuple[str, ...]
    read: int  # distinct queries in the file
    skipped: tuple[str, ...]  # what was left out and why, one line each

    @property
    def summary(self) -> str:
        """One line for a page or the command line."""
        sampled = f" (a sample of {len(self.queries)} of {self.read})" if len(self.queries) < self.read else ""
        return f"{len(self.queries)} queries to judge{sampled}" + (
            f"; {len(self.skipped)} lines left out" if self.skipped else "") + "."


def read_query_set(text: str, file_name: str = "", sample: int | None = None, seed: int = 0) -> QuerySet:
    """The queries in ``text`` (the content of ``file_name``, whose extension says CSV/TSV or plain text)."""
    if sample is not None and sample < 1:
        raise ConfigError(f"The sample size must be at least 1, got {sample}.")
    lowered = file_name.lower()
    if lowered.endswith((".csv", ".tsv")):
        lines = _column(text, "\t" if lowered.endswith(".tsv") else ",")
    else:
        lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)]
    queries: dict[str, str] = {}
    skipped = []
    for number, line in lines:
        query = " ".join(line.split())
        if not query:
            continue
        if len(query) > MAX_QUERY_CHARS:
            skipped.append(f"line {number}: {len(query):,} characters, too long for a query "
                           f"(at most {MAX_QUERY_CHARS:,})")
            continue
        queries.setdefault(query.lower(), query)
        if len(queries) > MAX_QUERIES:
            raise ConfigError(f"The file holds more than {MAX_QUERIES:,} distinct queries; sample it first, or "
                              "split it.")
    if not queries:
        raise ConfigError("No query found in the file: give one query per line, or a CSV with a 'query' column.")
    chosen = list(queries.values())
    if sample is not None and sample < len(chosen):
        chosen = random.Random(seed).sample(chosen, sample)
    return QuerySet(tuple(chosen), len(queries), tuple(skipped))


def _column(text: str, delimiter: str) -> list[tuple[int, str]]:
    """(line number, value) of the query column of a CSV/TSV text."""
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise ConfigError(f"The file is not readable as {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}.") from None
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    named = next((header.index(name) for name in QUERY_COLUMNS if name in header), None)
    column, start = (named, 1) if named is not None else (0, 0)
    return [(number, row[column]) for number, row in enumerate(rows[start:], start=start + 1) if len(row) > column]

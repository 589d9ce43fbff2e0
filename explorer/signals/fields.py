"""What metadata a corpus carries: each field's kind (date, number, category or text), how many documents have it,
and, for dates and numbers, every value that could not be read, by document (nothing is dropped: a document whose
value cannot be read simply has no value for that signal)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Callable, Literal, Sequence, TypeVar

from explorer.records import Document
from explorer.signals.dates import read_date

T = TypeVar("T")
FieldKind = Literal["date", "number", "category", "text"]
# a field is a date (or a number) when at least this share of its values reads as one; the rest are reported
READABLE_SHARE = 0.8
# a field of text values is a category when it has at most this many distinct values (and they repeat)
MAX_CATEGORIES = 50
_COMPACT_DATE = re.compile(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
# fields the loaders add themselves that are not useful as signals
_SOURCE_FIELDS = ("source",)


@dataclass(frozen=True)
class BadValue:
    """A value of a field that could not be read as the field's kind, with the document it came from and why."""

    doc_id: str
    value: str
    reason: str


@dataclass(frozen=True)
class FieldSummary:
    """One metadata field over the corpus."""

    name: str
    kind: FieldKind
    present: int  # documents with a value
    missing: int  # documents without one
    distinct: int
    examples: tuple[str, ...]  # a few values as written
    bad_values: tuple[BadValue, ...] = ()  # values not readable as ``kind`` (dates and numbers)
    earliest: date | None = None  # dates: the range read
    latest: date | None = None
    low: float | None = None  # numbers: the range read
    high: float | None = None

    @property
    def described(self) -> str:
        """One line for the Data set page: the kind, coverage, range or values, and how many could not be read."""
        parts = [f"{self.present:,} of {self.present + self.missing:,} documents"]
        if self.kind == "date" and self.earliest and self.latest:
            parts.append(f"{self.earliest.isoformat()} to {self.latest.isoformat()}")
        elif self.kind == "number" and self.low is not None and self.high is not None:
            parts.append(f"{self.low:g} to {self.high:g}")
        elif self.kind == "category":
            parts.append(f"{self.distinct} values")
        if self.bad_values:
            parts.append(f"{len(self.bad_values):,} unreadable")
        return "; ".join(parts)


def read_number(value: str) -> float | None:
    """``value`` as a finite number (``1,234.5`` reads as 1234.5), else None."""
    try:
        number = float(value.strip().replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def summarise_fields(documents: Sequence[Document]) -> list[FieldSummary]:
    """Every metadata field of ``documents``, in the order they first appear."""
    names = list(dict.fromkeys(key for doc in documents for key in doc.metadata))
    return [summarise_field(documents, name) for name in names]


def summarise_field(documents: Sequence[Document], name: str) -> FieldSummary:
    """One field: its kind, as ``FieldKind`` decides from the values, and what could not be read as that kind."""
    values = [(doc.doc_id, doc.metadata[name]) for doc in documents if doc.metadata.get(name, "").strip()]
    present, missing = len(values), len(documents) - len(values)
    distinct = len({value for _, value in values})
    examples = tuple(dict.fromkeys(value for _, value in values))[:5]
    if not values:
        return FieldSummary(name, "text", 0, missing, 0, ())
    numbers = {doc_id: read_number(value) for doc_id, value in values}
    readable_numbers = [n for n in numbers.values() if n is not None]
    dates = {doc_id: read_date(value) for doc_id, value in values}
    readable_dates = [r.date for r in dates.values() if r.date is not None]
    # a date field: most values read as dates, and not merely as plain numbers (a year column, a count), unless they
    # are all compact dates (20240716) of this era
    compact = all(_COMPACT_DATE.fullmatch(value.strip()) for _, value in values)
    if len(readable_dates) >= READABLE_SHARE * present and (len(readable_dates) > len(readable_numbers) or compact):
        bad = tuple(BadValue(doc_id, reading.value, reading.reason) for doc_id, reading in dates.items()
                    if reading.date is None)
        return FieldSummary(name, "date", present, missing, distinct, examples, bad,
                            earliest=min(readable_dates), latest=max(readable_dates))
    if len(readable_numbers) >= READABLE_SHARE * present and name not in _SOURCE_FIELDS:
        bad = tuple(BadValue(doc_id, value, "not a number") for (doc_id, value) in values if numbers[doc_id] is None)
        return FieldSummary(name, "number", present, missing, distinct, examples, bad,
                            low=min(readable_numbers), high=max(readable_numbers))
    kind: FieldKind = "category" if distinct <= MAX_CATEGORIES and distinct < present else "text"
    return FieldSummary(name, kind, present, missing, distinct, examples)


def date_values(documents: Sequence[Document], name: str) -> tuple[dict[str, date], tuple[BadValue, ...]]:
    """Document id -> the date in field ``name``, and the values that could not be read (documents without the field
    are in neither)."""
    return _field_values(documents, name, _date_and_reason)


def _date_and_reason(value: str) -> tuple[date | None, str]:
    """``read_date`` as (the date or None, the reason it was not read)."""
    reading = read_date(value)
    return reading.date, reading.reason


def number_values(documents: Sequence[Document], name: str) -> tuple[dict[str, float], tuple[BadValue, ...]]:
    """Document id -> the number in field ``name``, and the values that could not be read."""
    return _field_values(documents, name, lambda value: (read_number(value), "not a number"))


def _field_values(documents: Sequence[Document], name: str,
                  read: Callable[[str], tuple[T | None, str]]) -> tuple[dict[str, T], tuple[BadValue, ...]]:
    """Document id -> field ``name`` as ``read`` reads it (the value, or None with the reason), and the values it
    could not read; documents without the field are in neither."""
    found: dict[str, T] = {}
    bad: list[BadValue] = []
    for doc in documents:
        value = doc.metadata.get(name, "")
        if not value.strip():
            continue
        parsed, reason = read(value)
        if parsed is None:
            bad.append(BadValue(doc.doc_id, value, reason))
        else:
            found[doc.doc_id] = parsed
    return found, tuple(bad)

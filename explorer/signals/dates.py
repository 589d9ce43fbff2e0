"""Reading dates from metadata text: ISO 8601 and the common written forms, with a reason for what is refused.

Accepted: ISO 8601 dates and date-times (``2024-07-16``, ``2024-07-16T09:30:00Z``, ``20240716``), ``2024/07/16``,
``16.07.2024`` (day first), ``16 July 2024`` / ``16 Jul 2024``, ``July 16, 2024`` / ``Jul 16 2024``, and slashed dates
whose order is clear (``31/12/2024``, ``12/31/2024``). A slashed date that reads both ways (``03/04/2024``) is refused
as ambiguous rather than guessed; a date-time keeps its date as written (its offset is not applied).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

MONTHS = {name: number for number, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for name in names}
_ISO = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[t ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?"
                  r"(?:z|[+-]\d{2}(?::?\d{2})?)?)?$")
_YMD_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})$")
_MONTH_DAY = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")


@dataclass(frozen=True)
class DateReading:
    """A value read as a date: the date, or None with the reason it was not read."""

    value: str
    date: date | None
    reason: str = ""


def read_date(value: str) -> DateReading:
    """``value`` read as a date (see the module's list of forms), or the reason it cannot be."""
    text = value.strip()
    if not text:
        return DateReading(value, None, "empty")
    lowered = text.lower()
    for pattern, order in ((_ISO, "ymd"), (_YMD_SLASH, "ymd"), (_DOTTED, "dmy")):
        match = pattern.match(lowered)
        if match:
            parts = [int(part) for part in match.groups()[:3]]
            year, month, day = parts if order == "ymd" else parts[::-1]
            return _made(value, year, month, day)
    match = _SLASHED.match(lowered)
    if match:
        first, second, year = (int(part) for part in match.groups())
        if first > 12 and second <= 12:
            return _made(value, year, second, first)
        if second > 12 and first <= 12:
            return _made(value, year, first, second)
        if first == second:
            return _made(value, year, first, second)
        return DateReading(value, None, "ambiguous: day/month or month/day; write it as YYYY-MM-DD")
    for pattern, day_first in ((_DAY_MONTH, True), (_MONTH_DAY, False)):
        match = pattern.match(lowered)
        if match:
            day_text, month_name, year_text = match.groups() if day_first else \
                (match.group(2), match.group(1), match.group(3))
            month = MONTHS.get(month_name)
            if month is None:
                return DateReading(value, None, f"{month_name!r} is not a month name")
            return _made(value, int(year_text), month, int(day_text))
    return DateReading(value, None, "not a date in a known form (use YYYY-MM-DD)")


def parse_date(value: str) -> date | None:
    """``value`` as a date, or None when it cannot be read as one (``read_date`` says why)."""
    return read_date(value).date


def _made(value: str, year: int, month: int, day: int) -> DateReading:
    """The date of these parts, or the reason they make none (month 13, 30 February...)."""
    try:
        return DateReading(value, datetime(year, month, day).date())
    except ValueError as exc:
        return DateReading(value, None, f"no such date ({exc})")

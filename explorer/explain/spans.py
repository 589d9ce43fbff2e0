"""Pieces of a document to explain a score by: words, runs of words and sentences, as character spans of its text.

Every explanation here names its pieces by their place in the document's own text (``Span``), so highlights are drawn
on the text the user reads, and the text with some pieces taken out (``without``) is what the reranker scores again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from explorer.errors import ConfigError

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*•\d])")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    """Characters ``start`` to ``end`` of a text (``text`` is that slice, kept for showing it)."""

    start: int
    end: int
    text: str


def sentence_spans(text: str) -> list[Span]:
    """The text's sentences (ending at ., ! or ? followed by white space, at a blank line, or before a list item),
    without their surrounding white space; empty pieces are left out."""
    spans, start = [], 0
    for boundary in [*_SENTENCE_END.finditer(text), None]:
        end = boundary.start() if boundary is not None else len(text)
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            offset = start + (len(piece) - len(piece.lstrip()))
            spans.append(Span(offset, offset + len(stripped), stripped))
        if boundary is not None:
            start = boundary.end()
    return spans


def word_spans(text: str) -> list[Span]:
    """Runs of characters other than white space."""
    return [Span(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def runs_of(spans: Sequence[Span], size: int, text: str) -> list[Span]:
    """Consecutive groups of ``size`` spans (the last may be shorter), each as one span of ``text``."""
    if size < 1:
        raise ConfigError(f"A run holds at least one word, not {size}.")
    runs = []
    for first in range(0, len(spans), size):
        group = spans[first:first + size]
        runs.append(Span(group[0].start, group[-1].end, text[group[0].start:group[-1].end]))
    return runs


def without(text: str, removed: Iterable[Span]) -> str:
    """``text`` with the ``removed`` spans taken out; the pieces left are joined by one space where a span was."""
    pieces, position = [], 0
    for span in sorted(removed, key=lambda s: s.start):
        if span.start < position:
            raise ConfigError("The spans to remove overlap; remove each piece of the text once.")
        pieces.append(text[position:span.start])
        position = span.end
    pieces.append(text[position:])
    return " ".join(piece.strip() for piece in pieces if piece.strip())

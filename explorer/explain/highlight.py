"""A text with pieces marked by their effect on a score, as a small self-contained HTML page.

Document text is never trusted as HTML: every piece passes through ``html.escape``; only the <mark> elements made
here carry markup. Pieces that raise the score are green, pieces that lower it red, darker for a larger effect; the
page is shown in a sandboxed frame (``st.iframe``), not as raw HTML in the app's page.
"""

from __future__ import annotations

import html
from typing import Sequence

from explorer.explain.spans import Span

RAISES, LOWERS = "26, 127, 55", "207, 34, 46"
STYLE = ("body{font-family:'Source Sans Pro',sans-serif;font-size:15px;line-height:1.7;margin:4px;color:#31333f}"
         "mark{border-radius:3px;padding:0 1px;color:inherit}")


def marked_text_html(text: str, effects: Sequence[tuple[Span, float]], unit: str = "score") -> str:
    """``text`` with each span marked by its effect (positive: it raises the score, green; negative: red), the
    strongest darkest; a span's title gives its value. Overlapping spans keep the first. A whole page."""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{STYLE}</style></head>'
            f"<body>{marked_fragment(text, effects, unit)}</body></html>")


def marked_fragment(text: str, effects: Sequence[tuple[Span, float]], unit: str = "score") -> str:
    """The marked text alone, for a page that has its own head (the story report)."""
    strongest = max((abs(value) for _, value in effects), default=0.0) or 1.0
    pieces, cursor = [], 0
    for span, value in sorted(effects, key=lambda item: item[0].start):
        if span.start < cursor or span.end > len(text):
            continue
        pieces.append(html.escape(text[cursor:span.start]))
        colour = RAISES if value >= 0 else LOWERS
        alpha = 0.08 + 0.72 * abs(value) / strongest
        pieces.append(f'<mark style="background:rgba({colour},{alpha:.2f})" title="{html.escape(unit)} '
                      f'{value:+.4f}">{html.escape(text[span.start:span.end])}</mark>')
        cursor = span.end
    pieces.append(html.escape(text[cursor:]))
    return "".join(pieces)

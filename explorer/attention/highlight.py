"""The document with the words the query attends to most highlighted, as a small self-contained HTML page.

Document text is never trusted as HTML: every piece of it passes through ``html.escape``, and only the
<mark> elements made here carry markup. The page is shown in a sandboxed component frame, not as raw HTML
in the app's own page.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from explorer.attention.model_pass import PairAttention
from explorer.attention.words import WordWeight
from explorer.errors import ConfigError

MARK_RGB = "255, 170, 0"
STYLE = ("body{font-family:'Source Sans Pro',sans-serif;font-size:15px;line-height:1.7;margin:4px;color:#31333f}"
         "mark{border-radius:3px;padding:0 1px;color:inherit}"
         ".unread{color:#8c959f}.rank{font-size:10px;vertical-align:super;color:#555}")


def highlighted_document_html(record: PairAttention, words: Sequence[WordWeight]) -> str:
    """The document with ``words`` marked, darker for more attention; text the reranker did not read greyed."""
    if record.document_window is not None:
        raise ConfigError("Highlight the record read_attention returned, not a window of it: the window does "
                          "not know where the reranker stopped reading.")
    text = record.document
    read_end = record.offsets[record.document_positions[-1]][1] if record.truncated else len(text)
    strongest = max((w.weight for w in words), default=0.0) or 1.0
    pieces: list[str] = []
    cursor = 0
    ranked = {word: rank for rank, word in enumerate(sorted(words, key=lambda w: -w.weight), start=1)}
    for word in sorted(words, key=lambda w: w.start):
        if word.start < cursor:
            continue  # overlapping spans cannot come from one tokenisation; keep the first
        pieces.append(html.escape(text[cursor:word.start]))
        alpha = 0.15 + 0.75 * word.weight / strongest
        pieces.append(f'<mark style="background:rgba({MARK_RGB},{alpha:.2f})" title="attention {word.weight:.4f}">'
                      f"{html.escape(text[word.start:word.end])}<span class=\"rank\">{ranked[word]}</span></mark>")
        cursor = word.end
    if cursor < read_end:
        pieces.append(html.escape(text[cursor:read_end]))
        cursor = read_end
    if cursor < len(text):
        pieces.append(f'<span class="unread" title="not read by the reranker">{html.escape(text[cursor:])}</span>')
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{STYLE}</style></head>'
            f"<body>{''.join(pieces)}</body></html>")

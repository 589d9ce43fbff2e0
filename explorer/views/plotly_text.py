"""Text from the data, made safe for Plotly's labels.

Plotly reads a subset of HTML (tags such as ``<b>`` or ``<a>``) in titles, ticks, hover and point labels, so
``&``, ``<`` and ``>`` are escaped. Quotes are left alone: Plotly decodes only a few named entities (``&amp;``,
``&lt;``, ``&gt;``, ...), so an escaped quote would be shown as the literal ``&quot;``.
"""

from __future__ import annotations

import html


def plotly_text(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped, so Plotly shows it as written and reads no markup in it."""
    return html.escape(text, quote=False)


def short_label(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters (an ellipsis where cut), made safe by ``plotly_text``."""
    text = " ".join(text.split())
    return plotly_text(text if len(text) <= limit else text[: limit - 1] + "…")

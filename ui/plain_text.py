"""Text from the data shown in Streamlit's markdown elements (headings, info boxes, captions) as written.

Streamlit reads markdown (and LaTeX between dollar signs) in those elements; HTML it never renders without
``unsafe_allow_html``, which the pages never pass with data. A backslash before each markdown character keeps a
query such as "*why* [this](x)" from turning into emphasis or a link.
"""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def markdown_literal(text: str) -> str:
    """``text`` with every markdown character escaped, so a markdown element shows it as it is."""
    return _MARKDOWN.sub(r"\\\1", text)

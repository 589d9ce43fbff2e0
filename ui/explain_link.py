"""Sending a query and one or two documents to the explanations page from any other page.

``explain_button`` goes under a result table whose rows can be selected: document A is the selected row's, and B the
one ranked just below it in the same table (the pair the "why A above B" view explains). The request travels in the
session; the explanations page takes it with ``take_request``.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pandas as pd
import streamlit as st

from ui.attention_link import selected_doc_id

EXPLAIN_PAGE = "pages/13_Explain.py"
REQUEST = "_explain_request"
QUERY_KEY, A_KEY, B_KEY = "explain_query", "explain_doc_a", "explain_doc_b"


def open_explanation(query: str, doc_a: str, doc_b: str = "") -> NoReturn:
    """Go to the explanations page with this query and these documents."""
    st.session_state[REQUEST] = (query, str(doc_a), str(doc_b))
    st.switch_page(EXPLAIN_PAGE)


def explain_button(query: str, table: pd.DataFrame | None, event: Any, key: str) -> None:
    """A button under a result table: why the selected document scored as it did, and why it is above the next."""
    doc_id = selected_doc_id(table, event)
    if st.button(f"See why: what moved {doc_id}'s score" if doc_id else "See why: what moved the score", key=key,
                 icon=":material/troubleshoot:", disabled=doc_id is None or not query.strip(),
                 help="Select a row in the table, then see which parts of the document raise or lower its score, "
                      "and why it is above the document ranked next."):
        ids = [str(value) for value in table["doc_id"]] if table is not None else []
        position = ids.index(doc_id) if doc_id in ids else -1
        below = ids[position + 1] if 0 <= position < len(ids) - 1 else ""
        open_explanation(query, doc_id, below)


def take_request(default: tuple[str, str, str]) -> None:
    """For the explanations page: fill its boxes from another page's request, or with ``default`` on a first visit."""
    request = st.session_state.pop(REQUEST, None)
    for key, value in zip((QUERY_KEY, A_KEY, B_KEY), request or default):
        if request is not None or key not in st.session_state:
            st.session_state[key] = value

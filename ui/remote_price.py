"""The price per 1,000 queries of a remote reranker, in a line for the pages that show stage costs."""

from __future__ import annotations

from explorer.errors import ExplorerError
from explorer.remote.prices import price_line, price_table
from ui import cache


def remote_price_line(name: str, depth: int) -> str:
    """E.g. "Cohere at depth 100: about $2.00 per 1,000 queries ($2 per 1,000 searches; ...)"; the price table's
    problem instead, when it cannot be read."""
    try:
        return price_line(name, depth, price_table(cache.settings()))
    except ExplorerError as exc:
        return f"Price of {name}: {exc}"


def llm_rerankers() -> list[str]:
    """The LLM rerankers a page offers: pointwise and listwise with the model in EXPLORER_LLM_MODEL (none when it is
    not set)."""
    from explorer.remote.llm_names import MODES

    model = cache.settings().llm_model
    return [f"{mode}:{model}" for mode in MODES] if model else []

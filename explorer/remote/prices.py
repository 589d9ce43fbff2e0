"""What a hosted reranker costs per 1,000 queries, from a small table you can edit.

The default figures are as listed by the vendors on their public pricing pages when this table was written
(``LISTED``); this machine cannot check them, and vendors change them: check before relying on them. The table
lives in ``remote_prices.json`` in the cache folder (written with the defaults the first time it is read); edit
that file to change a price or add one (a ``rerank-api`` entry prices another team's service, for example).

Vendors price in two ways, converted to a price per 1,000 queries at the candidate depth k:

- per search (Cohere): one query with up to ``documents_per_search`` documents (100) is one search; a document
  longer than ``tokens_per_document_unit`` tokens (500, query included) counts as several documents;
- per million tokens (Voyage, Jina): Voyage counts (query tokens x documents + the documents' tokens) per request.
  The estimate assumes ``query_tokens`` and ``document_tokens`` (stated with the figure) unless the caller gives
  the real lengths.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal

from explorer.errors import ConfigError
from explorer.remote.llm_names import is_llm_name, parse_llm_name
from explorer.remote.names import is_remote_name, parse_remote_name
from explorer.settings import Settings

logger = logging.getLogger(__name__)

PRICES_FILE = "remote_prices.json"
LISTED = "2025 (figures gathered then from the vendors' pricing pages)"
WARNING = "as listed by the vendor, check before relying on them"
Unit = Literal["1,000 queries", "1,000 searches", "1M tokens"]
UNITS: tuple[Unit, ...] = ("1,000 queries", "1,000 searches", "1M tokens")
# assumed lengths when the caller does not know them (about 15 words of query, 225 words of passage)
QUERY_TOKENS = 20
DOCUMENT_TOKENS = 300


@dataclass(frozen=True)
class Price:
    """One vendor's (or service's) price: ``usd`` per ``unit`` for ``model`` ("*": any of its models); ``usd`` None
    when there is no figure yet."""

    vendor: str
    model: str
    usd: float | None
    unit: Unit
    documents_per_search: int = 100  # with unit "1,000 searches": documents one search covers
    tokens_per_document_unit: int = 500  # with unit "1,000 searches": a longer document counts as several
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    """The prices in use, where they come from, and when the figures were listed."""

    prices: tuple[Price, ...]
    source: str
    listed: str = LISTED

    def find(self, vendor: str, model: str) -> Price | None:
        """The price of ``vendor``'s ``model``: its own entry, else the vendor's "*" entry, else None."""
        exact = [p for p in self.prices if p.vendor == vendor and p.model == model]
        if exact:
            return exact[0]
        return next((p for p in self.prices if p.vendor == vendor and p.model == "*"), None)


@dataclass(frozen=True)
class PriceEstimate:
    """The price per 1,000 queries of one reranker at one depth (None when the table has no figure), and how it was
    worked out, in a sentence to show beside it."""

    usd_per_1000_queries: float | None
    explanation: str


DEFAULT_PRICES: tuple[Price, ...] = (
    Price("cohere", "*", 2.00, "1,000 searches",
          note="Rerank 3.5 and later: one search is a query with up to 100 documents."),
    Price("voyage", "rerank-2.5", 0.05, "1M tokens", note="The first 200M tokens of an account are free."),
    Price("voyage", "rerank-2.5-lite", 0.02, "1M tokens", note="The first 200M tokens of an account are free."),
    Price("voyage", "rerank-2", 0.05, "1M tokens"),
    Price("voyage", "rerank-2-lite", 0.02, "1M tokens"),
    Price("jina", "*", None, "1M tokens",
          note="Jina sells token packages; put your plan's price per 1M tokens here."),
    Price("llm-pointwise", "*", None, "1M tokens",
          note="A chat model's price depends on the model and the provider; put it here (input tokens dominate)."),
    Price("llm-listwise", "*", None, "1M tokens",
          note="A chat model's price depends on the model and the provider; put it here (input tokens dominate)."),
)
# what the LLM rerankers' prompts add to every request (instructions, tags), in tokens, for the estimate
LLM_PROMPT_TOKENS = 200


def default_price_table() -> PriceTable:
    """The figures shipped with the explorer (see ``LISTED``; check them before relying on them)."""
    return PriceTable(DEFAULT_PRICES, f"the explorer's defaults, {WARNING}")


def price_table(settings: Settings) -> PriceTable:
    """The price table in use: ``remote_prices.json`` in the cache folder (written with the defaults the first
    time, for you to edit), or the defaults when the folder cannot be written. ConfigError names what is wrong in
    an edited file that cannot be read."""
    path = settings.cache_dir / PRICES_FILE
    if not path.is_file():
        try:
            write_price_table(default_price_table(), path)
        except OSError as exc:
            logger.info("the price table could not be written to %s (%s); using the defaults", path, exc)
            return default_price_table()
    return with_new_vendors(read_price_table(path))


def with_new_vendors(table: PriceTable) -> PriceTable:
    """``table`` with the default entries of every vendor it has none of (a table written before the explorer knew
    that vendor, such as the LLM rerankers), so that the page names where a price goes."""
    known = {price.vendor for price in table.prices}
    added = tuple(price for price in DEFAULT_PRICES if price.vendor not in known)
    return PriceTable(table.prices + added, table.source, table.listed) if added else table


def write_price_table(table: PriceTable, path: Path) -> Path:
    """Writes ``table`` as JSON to ``path``, with a note on where the figures come from; returns the path."""
    content = {"note": f"Prices of hosted rerankers, {WARNING}. Default figures listed {table.listed}. "
                       f"unit: one of {', '.join(UNITS)}; usd: null when unknown; model '*': any model of the vendor.",
               "listed": table.listed, "prices": [asdict(price) for price in table.prices]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return path


def read_price_table(path: Path) -> PriceTable:
    """The price table in the JSON file ``path``; ConfigError names the entry that cannot be read."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        rows = content["prices"]
        if not isinstance(rows, list):
            raise TypeError("'prices' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"The price table {path} cannot be read ({exc}). Fix it, or delete it to get the "
                          "defaults back.") from None
    prices = []
    for number, row in enumerate(rows, start=1):
        try:
            price = Price(**row)
            if price.unit not in UNITS:
                raise ValueError(f"unit must be one of {', '.join(UNITS)}")
            if price.usd is not None and (not isinstance(price.usd, (int, float)) or price.usd < 0):
                raise ValueError("usd must be a number from 0 up, or null")
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Entry {number} of the price table {path} cannot be used: {exc}. Fix it, or delete "
                              "the file to get the defaults back.") from None
        prices.append(price)
    return PriceTable(tuple(prices), f"{path} ({WARNING})", str(content.get("listed", LISTED)))


def estimate_price(name: str, depth: int, table: PriceTable, query_tokens: int = QUERY_TOKENS,
                   document_tokens: int = DOCUMENT_TOKENS) -> PriceEstimate:
    """The price per 1,000 queries of the remote reranker ``name`` reranking ``depth`` candidates per query, with
    queries of ``query_tokens`` and documents of ``document_tokens`` tokens."""
    if not is_remote_name(name):
        return PriceEstimate(None, f"{name} runs on this machine: no per-query price.")
    if is_llm_name(name):
        return _llm_estimate(name, depth, table, query_tokens, document_tokens)
    remote = parse_remote_name(name)
    vendor, model = remote.vendor, remote.model or "*"
    price = table.find(vendor, model)
    if price is None or price.usd is None:
        why = ("another team's or this project's own service" if vendor == "rerank-api" else remote.title)
        return PriceEstimate(None, f"No price for {remote.name} in the price table ({why}); add one to "
                                   f"{PRICES_FILE} in the cache folder to see it here.")
    if price.unit == "1,000 queries":
        usd = price.usd
        how = f"${price.usd:g} per 1,000 queries"
    elif price.unit == "1,000 searches":
        units_per_document = max(1, math.ceil((query_tokens + document_tokens) / price.tokens_per_document_unit))
        searches = max(1, math.ceil(depth * units_per_document / price.documents_per_search))
        usd = price.usd * searches
        how = (f"${price.usd:g} per 1,000 searches; a query of {depth} documents is {searches} search"
               f"{'es' if searches > 1 else ''} (up to {price.documents_per_search} documents each)")
    else:
        tokens = depth * (query_tokens + document_tokens)
        usd = price.usd * tokens * 1000 / 1_000_000
        how = (f"${price.usd:g} per 1M tokens; about {tokens:,} tokens per query ({depth} documents × "
               f"({query_tokens} query + {document_tokens} document tokens), lengths assumed)")
    note = f" {price.note}" if price.note else ""
    return PriceEstimate(usd, f"{how}. Prices from {table.source}; listed {table.listed}.{note}")


def _llm_estimate(name: str, depth: int, table: PriceTable, query_tokens: int,
                  document_tokens: int) -> PriceEstimate:
    """The price per 1,000 queries of an LLM reranker: pointwise sends the prompt, query and one document per
    candidate; listwise sends the prompt, query and a window of documents per window."""
    from explorer.remote.llm_rerank import STEP, WINDOW

    llm = parse_llm_name(name)
    price = table.find(llm.mode, llm.model)
    if price is None or price.usd is None or price.unit != "1M tokens":
        return PriceEstimate(None, f"No price per 1M tokens for {llm.title} in the price table; add one for "
                                   f"{llm.mode} (model {llm.model} or '*') to {PRICES_FILE} in the cache folder.")
    if llm.mode == "llm-pointwise":
        tokens = depth * (LLM_PROMPT_TOKENS + query_tokens + document_tokens)
        how = f"{depth} requests of about {LLM_PROMPT_TOKENS + query_tokens + document_tokens} tokens"
    else:
        windows = 1 if depth <= WINDOW else 1 + math.ceil((depth - WINDOW) / STEP)
        size = min(depth, WINDOW)
        tokens = windows * (LLM_PROMPT_TOKENS + query_tokens + size * document_tokens)
        how = f"{windows} window(s) of {size} documents"
    usd = price.usd * tokens * 1000 / 1_000_000
    note = f" {price.note}" if price.note else ""
    return PriceEstimate(usd, f"${price.usd:g} per 1M tokens; about {tokens:,} tokens per query ({how}, lengths "
                              f"assumed). Prices from {table.source}.{note}")


def price_line(name: str, depth: int, table: PriceTable) -> str:
    """E.g. "Price of cohere:rerank-v3.5 at depth 100: about $2.00 per 1,000 queries ($2 per 1,000 searches; ...)",
    or why there is no price, for the pages and the command line that show stage costs."""
    estimate = estimate_price(name, depth, table)
    if estimate.usd_per_1000_queries is None:
        return f"Price of {name}: {estimate.explanation}"
    return (f"Price of {name} at depth {depth}: about ${estimate.usd_per_1000_queries:,.2f} per 1,000 queries "
            f"({estimate.explanation})")


def pricing(table: PriceTable) -> Callable[[str, int], tuple[float | None, str]]:
    """(reranker name, depth) -> (US dollars per 1,000 queries, how it was worked out), or (None, "") where the table
    has no price for it (a local reranker, or a vendor without a figure): what the story's cost asks."""

    def price(name: str, depth: int) -> tuple[float | None, str]:
        estimate = estimate_price(name, depth, table)
        if estimate.usd_per_1000_queries is None:
            return None, ""
        return estimate.usd_per_1000_queries, estimate.explanation

    return price

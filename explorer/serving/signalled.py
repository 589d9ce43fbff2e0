"""Signals over documents a client sends (the service's ``/v1/rerank``, the LangChain compressor): each document's
metadata read as the loaders read a corpus's, then the reranker's order reordered by the pipeline file's signals with
``apply_signals``, the function that reorders the Search page's list, so both rank a list alike.

The documents sent stand for the page's candidates: relevance is the reranker's score normalised over the documents
sent (by rank for a cascade, whose list mixes two models' scales, as on the page); MMR diversity reads the
pipeline's bi-encoder's vectors of the texts sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explorer.errors import ConfigError
from explorer.models.info import LoadedModel
from explorer.signals.config import SignalConfig
from explorer.signals.ranking import SignalledRanking, apply_signals


def active_signals(config: SignalConfig | None) -> SignalConfig | None:
    """``config`` where it changes an order (a signal with a weight, or a diversity step), else None."""
    return config if config is not None and config.active else None


def needs_vectors(config: SignalConfig | None) -> bool:
    """Whether ``config`` diversifies with MMR, which reads the bi-encoder's vector of every document."""
    return config is not None and config.diversity is not None and config.diversity.mode == "mmr"


def value_as_text(value: Any) -> str:
    """One metadata value as the loaders keep it: text as it is, numbers and booleans through ``str``, lists and
    objects as JSON; anything else (a LangChain document's date, say) through ``str``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def metadata_as_text(raw: Any, where: str) -> dict[str, str]:
    """A document's metadata as sent (an object of field -> string, number or boolean; None: no metadata) as the
    loaders keep a corpus's: each value as text (``value_as_text``), null and empty values left out. A ConfigError
    names the document (``where``) when ``raw`` is not an object."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}.metadata must be an object of field -> value, e.g. "
                          f'{{"updated": "2025-05-01", "status": "current"}}; got {type(raw).__name__}.')
    return {str(key): value_as_text(value) for key, value in raw.items() if value is not None and value != ""}


def sent_vectors(bi_encoder: LoadedModel | None, texts: Sequence[str], who: str) -> np.ndarray:
    """The bi-encoder's unit vectors of ``texts`` (MMR's input); a ConfigError saying what to do when ``who`` (the
    service, the compressor) has no bi-encoder."""
    if bi_encoder is None:
        raise ConfigError(f"The pipeline file's signals diversify with MMR, which compares the documents' bi-encoder "
                          f"vectors, but {who} has no bi-encoder to encode them. Give it one, or export the pipeline "
                          "with per-parent diversity (or none).")
    from explorer.retrieval.embedding import encode_texts

    return encode_texts(bi_encoder, list(texts))


def rank_sent(order: Sequence[int], scores: Sequence[float] | None, metadata: Sequence[Mapping[str, str]],
              config: SignalConfig, vectors: np.ndarray | None = None) -> SignalledRanking:
    """The documents sent after ``config`` (resolved, as a pipeline file holds it): ``order`` is their positions in
    the relevance order, ``scores`` the ranking scores in that order (None: relevance by rank), ``metadata`` and
    ``vectors`` (MMR only) one per document in the order sent. Each hit's ``doc_id`` is its position sent, as text."""
    order = list(order)
    if len(order) != len(metadata) or sorted(order) != list(range(len(metadata))):
        raise RuntimeError(f"rank_sent's order must name each of the {len(metadata)} documents once; this is a bug.")
    rows = None if vectors is None else np.asarray(vectors)[order]
    return apply_signals([str(position) for position in order], scores,
                         lambda doc_id: metadata[int(doc_id)], config, rows)


def positions(ranking: SignalledRanking) -> list[int]:
    """The positions sent, in the signals' final order (``rank_sent``'s hits)."""
    return [int(hit.doc_id) for hit in ranking.hits]

"""Applying a signal configuration to one ranked list: each result's signals, their weighted contributions, the order
by the final score, then the diversity step; with where relevance alone had put each result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.records import Document
from explorer.signals.config import RELEVANCE, Authority, Freshness, NumberSignal, Signal, SignalConfig
from explorer.signals.dates import parse_date
from explorer.signals.diversity import cap_per_parent, mmr_order
from explorer.signals.fields import read_number

MetadataOf = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class SignalledHit:
    """One result after the signals: its final rank, relevance's rank, and each part of its final score."""

    doc_id: str
    rank: int  # final, after the signals and the diversity step
    relevance_rank: int  # by relevance alone
    relevance: float  # the ranking score normalised to 0-1 over the list
    values: Mapping[str, float | None]  # signal label -> its 0-1 value (None: the document has no readable value)
    contributions: Mapping[str, float]  # "relevance" and each signal label -> weight x value
    total: float  # the final score: the contributions' sum
    score_rank: int  # by the final score, before the diversity step

    @property
    def moved(self) -> int:
        """Places moved up (positive) from relevance's rank to the final rank."""
        return self.relevance_rank - self.rank

    @property
    def moved_by_diversity(self) -> int:
        """Places the diversity step moved it up (positive) or down (negative)."""
        return self.score_rank - self.rank


@dataclass(frozen=True)
class SignalledRanking:
    """One list after the signals, in final order, with the configuration that made it."""

    hits: tuple[SignalledHit, ...]
    config: SignalConfig
    missing: Mapping[str, int]  # signal label -> results without a readable value (they count 0)

    @property
    def order(self) -> list[str]:
        """The document ids in final order."""
        return [hit.doc_id for hit in self.hits]

    @property
    def labels(self) -> list[str]:
        """The parts of the final score, relevance first, in the configuration's order."""
        return [RELEVANCE] + [signal.label for signal in self.config.signals]


def normalised(scores: Sequence[float] | None, count: int) -> list[float]:
    """Relevance on 0-1 over the list: min-max of ``scores`` (all 1 when they are equal), or by rank when there are no
    comparable scores (None: a cascade's list mixes two models' scales), the first 1 and the last 0."""
    if scores is None:
        return [1.0 - position / (count - 1) if count > 1 else 1.0 for position in range(count)]
    low, high = min(scores, default=0.0), max(scores, default=0.0)
    if high <= low:
        return [1.0] * len(scores)
    return [(float(score) - low) / (high - low) for score in scores]


def signal_value(signal: Signal, metadata: Mapping[str, str]) -> float | None:
    """One document's value of one signal, 0-1; None where it has no readable value (which then counts 0)."""
    text = metadata.get(signal.field)
    if isinstance(signal, Authority):
        return signal.value_of(text) if text is not None and text.strip() else None
    if not text or not text.strip():
        return None
    if isinstance(signal, Freshness):
        when = parse_date(text)
        if when is None or signal.now is None:
            return None
        age = max((signal.now - when).days, 0)
        return 0.5 ** (age / signal.half_life_days)
    if isinstance(signal, NumberSignal):
        number = read_number(text)
        return None if number is None else signal.scaled(number)
    raise ConfigError(f"Unknown signal {signal!r}.")


def counted_value(signal: Signal, value: float | None) -> float:
    """What a document's value counts in the final score: itself, or without one, authority's ``other`` and 0 for
    freshness and numbers."""
    if value is not None:
        return value
    return signal.other if isinstance(signal, Authority) else 0.0


def apply_signals(doc_ids: Sequence[str], scores: Sequence[float] | None, metadata_of: MetadataOf,
                  config: SignalConfig, vectors: np.ndarray | None = None) -> SignalledRanking:
    """``doc_ids`` (in relevance order, with their ranking ``scores``, or None to go by rank) after ``config``, which
    must be resolved (``SignalConfig.resolved``). MMR needs ``vectors``, one row per document in the same order.
    Authority without a value counts its ``other`` weight; freshness and numbers without one count 0."""
    if scores is not None and len(scores) != len(doc_ids):
        raise ConfigError(f"{len(doc_ids)} documents but {len(scores)} scores; they must match.")
    relevance = normalised(scores, len(doc_ids))
    parts: list[dict[str, float]] = []
    values: list[dict[str, float | None]] = []
    missing = {signal.label: 0 for signal in config.signals}
    for doc_id, rel in zip(doc_ids, relevance):
        metadata = metadata_of(doc_id)
        own = {signal.label: signal_value(signal, metadata) for signal in config.signals}
        for label, value in own.items():
            missing[label] += value is None
        values.append(own)
        contributions = {RELEVANCE: config.relevance_weight * rel}
        for signal in config.signals:
            contributions[signal.label] = signal.weight * counted_value(signal, own[signal.label])
        parts.append(contributions)
    totals = [sum(p.values()) for p in parts]
    by_score = sorted(range(len(doc_ids)), key=lambda i: (-totals[i], i))
    final = _diversified(by_score, totals, doc_ids, metadata_of, config, vectors)
    score_rank = {position: rank for rank, position in enumerate(by_score, start=1)}
    hits = tuple(SignalledHit(doc_ids[p], rank, p + 1, relevance[p], values[p], parts[p], totals[p], score_rank[p])
                 for rank, p in enumerate(final, start=1))
    return SignalledRanking(hits, config, missing)


def _diversified(by_score: list[int], totals: Sequence[float], doc_ids: Sequence[str], metadata_of: MetadataOf,
                 config: SignalConfig, vectors: np.ndarray | None) -> list[int]:
    """Positions in final order: ``by_score`` after the configuration's diversity step (unchanged without one)."""
    step = config.diversity
    if step is None or not by_score:
        return by_score
    if step.mode == "per-parent":
        parents = [metadata_of(doc_ids[p]).get(step.field) for p in by_score]
        return [by_score[i] for i in cap_per_parent(parents, step.limit)]
    if vectors is None or len(vectors) != len(doc_ids):
        raise ConfigError("MMR diversity needs the bi-encoder's vector of every result; none were given.")
    ordered = [by_score[i] for i in mmr_order([totals[p] for p in by_score], np.asarray(vectors)[by_score],
                                              step.lambda_)]
    return ordered


def metadata_lookup(documents: Mapping[str, Document] | Callable[[str], Document]) -> MetadataOf:
    """A ``MetadataOf`` over documents by id (a mapping, or a lookup such as ``Dataset.document``); an unknown id has
    no metadata."""
    def of(doc_id: str) -> Mapping[str, str]:
        try:
            document = documents[doc_id] if isinstance(documents, Mapping) else documents(doc_id)
        except KeyError:
            return {}
        return document.metadata
    return of

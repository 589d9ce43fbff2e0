"""Cascade reranking: a small reranker reads every candidate, the chosen (main) reranker only the small one's top
``keep``; the main reranker's order decides the top, the small one's the rest.

Reading fewer pairs with the big model is where most of a reranker's time goes (Vespa's phased ranking, shallow
and early-exit cross-encoders). The cost is quality where the small model drops a document the main one would
have put in the top: ``python -m explorer bench`` and the Evaluate page's sweep of ``keep`` measure how much.

A hit keeps the score of the model that placed it (``RerankedHit.scored_by``): the main reranker's for the top
``keep``, the small one's below. The two are on different scales, so views of the main reranker's scores (its
distribution, thresholds) read only the hits it scored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.models.info import LoadedModel
from explorer.rerank.score_cache import ScoreCache
from explorer.retrieval.fusion import blend_scores
from explorer.rerank.scoring import PairScores, order_by_score, score_pairs

MAIN, SMALL = "main", "small"


@dataclass(frozen=True)
class CascadeSpec:
    """Which small reranker reads every candidate, and how many of its best the main reranker reads."""

    small: str  # a model name as the reranker picker takes it (hub id, folder, trained/...)
    keep: int = 20

    def __post_init__(self) -> None:
        if not self.small.strip():
            raise ConfigError("A cascade needs a small reranker: name one (a hub id or a folder).")
        if self.keep < 1:
            raise ConfigError(f"The main reranker must read at least 1 candidate; got keep={self.keep}.")

    @classmethod
    def parse(cls, text: str) -> "CascadeSpec":
        """The command line's form, ``SMALL:M``: the small reranker's name and the number the main one reads."""
        name, sep, keep = text.strip().rpartition(":")
        if not sep or not name:
            raise ConfigError(f"--cascade takes SMALL:M, e.g. trained/small-reranker:20; got {text!r}.")
        try:
            return cls(name, int(keep))
        except ValueError:
            raise ConfigError(f"--cascade's M must be a whole number of candidates; got {keep!r}.") from None


@dataclass(frozen=True)
class CascadeReport:
    """What each stage of one cascade read and what it cost."""

    small_model: str
    keep: int
    pairs_small: int  # pairs the small reranker scored (every candidate)
    pairs_main: int  # pairs the main reranker scored (at most ``keep``)
    small_ms: float
    main_ms: float
    from_cache_small: int = 0
    from_cache_main: int = 0


@dataclass(frozen=True)
class CascadeScores:
    """Both models' scores of one query's candidates, in candidate order."""

    small: PairScores
    main_positions: tuple[int, ...]  # the candidates the main reranker read, in candidate order
    main: PairScores  # its scores of them, in that order
    report: CascadeReport | None  # None: scores put together outside a timed cascade (the benchmark reuses them)
    ranking: tuple[int, ...] = ()  # every candidate's position in the small reranker's order, best first


def small_ranking(small_scores: Sequence[float], first_stage_scores: Sequence[float], blend: float = 1.0) -> list[int]:
    """Candidate positions in the small reranker's order under the same ranking rule as the reranker's: its score
    alone (``blend`` 1), or blended with the first stage's at the reranker's weight (ties: the first stage's order).
    A small reranker, like the reranker it imitates, may do best blended."""
    raw = [float(s) for s in small_scores]
    ranked = blend_scores(raw, [float(s) for s in first_stage_scores], blend) if blend < 1.0 else raw
    return order_by_score(ranked)


def kept_positions(ranking: Sequence[int], keep: int) -> list[int]:
    """The first ``keep`` candidates of the small reranker's ``ranking``, in candidate order."""
    return sorted(ranking[:keep])


def cascade_scores(small: LoadedModel, main: LoadedModel, query: str, texts: Sequence[str], keep: int,
                   first_stage_scores: Sequence[float], blend: float = 1.0, cache: ScoreCache | None = None,
                   clock: Callable[[], float] = time.perf_counter) -> CascadeScores:
    """The small reranker's scores of every text, and the main reranker's of the small one's top ``keep`` (ranked
    by the same rule, ``blend``, as the reranker's)."""
    started = clock()
    small_scores = score_pairs(small, query, texts, cache=cache)
    read = clock()
    ranking = small_ranking(small_scores.raw, first_stage_scores, blend)
    positions = tuple(kept_positions(ranking, keep))
    main_scores = score_pairs(main, query, [texts[p] for p in positions], cache=cache)
    finished = clock()
    report = CascadeReport(small.info.loaded, keep, len(texts), len(positions), (read - started) * 1000,
                           (finished - read) * 1000, small_scores.from_cache, main_scores.from_cache)
    return CascadeScores(small_scores, positions, main_scores, report, tuple(ranking))


def cascade_order(ranking: Sequence[int], main_positions: Sequence[int], main_order: Sequence[int]) -> list[int]:
    """Candidate positions in the cascade's order: those the main reranker read, in ``main_order`` (indices into
    ``main_positions``, best first), then the others in the small reranker's ``ranking``."""
    read = [main_positions[i] for i in main_order]
    chosen = set(main_positions)
    return read + [p for p in ranking if p not in chosen]


def scores_by_position(cascade: CascadeScores) -> tuple[np.ndarray, list[str]]:
    """One score per candidate, the main reranker's where it read the candidate, else the small one's, and which
    model each came from."""
    values = np.array(cascade.small.raw, dtype=np.float32, copy=True)
    scored_by = [SMALL] * len(values)
    for index, position in enumerate(cascade.main_positions):
        values[position] = cascade.main.raw[index]
        scored_by[position] = MAIN
    return values, scored_by

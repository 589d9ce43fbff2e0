"""Choosing a reranker score threshold: below it, the explorer says "no good answer".

Over each query's top ``top_n`` reranked results, a result is kept when its score is at or above the
threshold. Precision is the share of kept results that are relevant; recall is the share of relevant results
in those top-n lists that are kept (so it is 1 at the lowest threshold); F1 combines the two. The score is the
reranker's probability when it has one (a trained single-logit model), else its raw score, as on the search
page; or, given a calibration fitted on labels (``explorer.evaluation.score_calibration``), the calibrated
probability of the raw score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from explorer.errors import ConfigError
from explorer.evaluation.runner import Evaluation

if TYPE_CHECKING:  # score_calibration imports this module
    from explorer.evaluation.score_calibration import Calibration

ScoreScale = Literal["auto", "raw score"]
# a precision measured on fewer kept results than this is too rough to choose a threshold by (at 10 results, a
# precision of 0.8 has a 95% interval of 0.49-0.94)
SMALL_SAMPLE = 30


@dataclass(frozen=True)
class ScoredResult:
    """One reranked result in a query's top n: its score and whether its label reaches the relevant grade."""

    query_id: str
    doc_id: str
    score: float
    relevant: bool


@dataclass(frozen=True)
class ThresholdPoint:
    """What one threshold keeps: how many results, precision, recall and F1, and the share of queries left empty."""

    threshold: float
    kept: int
    precision: float | None  # None when nothing is kept
    recall: float
    f1: float
    queries_left_empty: float  # share of queries with no result at or above the threshold


@dataclass(frozen=True)
class ThresholdSweep:
    """The results swept and one point per threshold tried (ascending), with the score kind and top n used."""

    score_kind: str  # "probability", "raw score" or "calibrated probability"
    top_n: int
    relevant_grade: int
    results: tuple[ScoredResult, ...]
    points: tuple[ThresholdPoint, ...]
    n_queries: int

    def suggest(self, target_precision: float) -> ThresholdPoint | None:
        """The lowest threshold whose precision reaches the target (the most recall at that precision)."""
        if not 0.0 < target_precision <= 1.0:
            raise ConfigError(f"The target precision must be in (0, 1], got {target_precision}.")
        reaching = [p for p in self.points if p.precision is not None and p.precision >= target_precision]
        return min(reaching, key=lambda p: p.threshold) if reaching else None

    def small_sample_warning(self, point: ThresholdPoint) -> str | None:
        """A warning when ``point``'s precision rests on fewer than ``SMALL_SAMPLE`` kept results, with its 95%
        interval (Wilson's score interval); None when there are enough."""
        if point.kept >= SMALL_SAMPLE:
            return None
        where = (f"This threshold is chosen from {len(self.results)} results ({self.n_queries} "
                 + ("query" if self.n_queries == 1 else "queries") + f", top {self.top_n} each)")
        if point.precision is None:
            return where + ", and it keeps none of them: its precision is not measured at all."
        low, high = precision_interval(point)
        return (where + f", and its precision {point.precision:.2f} rests on the {point.kept} results it keeps: the "
                f"95% interval is {low:.2f} to {high:.2f}. Evaluate more labelled queries (or raise n) before "
                "relying on it.")

    def at(self, threshold: float) -> ThresholdPoint:
        """What ``threshold`` keeps of the swept results (any value, not only an observed score)."""
        scores = np.array([r.score for r in self.results])
        relevant = np.array([r.relevant for r in self.results])
        return _point(float(threshold), scores, relevant, _owners(self.results), self.n_queries)


def precision_interval(point: ThresholdPoint, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of ``point``'s precision (its relevant kept results out of those kept); (0, 1) when
    nothing is kept."""
    if not point.kept or point.precision is None:
        return 0.0, 1.0
    from scipy.stats import binomtest

    hits = round(point.precision * point.kept)
    interval = binomtest(hits, point.kept).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def scored_results(evaluation: Evaluation, top_n: int = 10, relevant_grade: int = 1, scale: ScoreScale = "auto",
                   calibration: Calibration | None = None) -> tuple[str, list[ScoredResult]]:
    """The score kind and each query's top ``top_n`` reranked results, relevant when graded ``relevant_grade`` or more.

    With ``scale`` "auto" the scores are probabilities when every query has them ("probability"), else raw scores
    ("raw score"); "raw score" always gives raw scores. With a ``calibration``, the scores are its probabilities of
    the raw scores ("calibrated probability")."""
    if not evaluation.has_reranker:
        raise ConfigError("Thresholds need reranker scores; evaluate with a reranker first.")
    if top_n < 1:
        raise ConfigError(f"top n must be at least 1, got {top_n}.")
    if scale not in ("auto", "raw score"):
        raise ConfigError(f"Unknown score scale {scale!r}; use 'auto' or 'raw score'.")
    use_probability = (calibration is None and scale == "auto"
                       and all(o.probabilities is not None for o in evaluation.outcomes))
    results = []
    for outcome in evaluation.outcomes:
        labels = evaluation.qrels.get(outcome.query_id, {})
        scores = outcome.probabilities if use_probability else outcome.reranker_scores
        if calibration is not None and scores is not None:
            scores = tuple(calibration.probability(np.asarray(scores, dtype=np.float64)).tolist())
        ranked = list(zip(outcome.reranked or (), scores or ()))
        if evaluation.unjudged == "removed":  # condensed: the top n of the results that have a label
            ranked = [(doc_id, score) for doc_id, score in ranked if doc_id in labels]
        for doc_id, score in ranked[:top_n]:
            results.append(ScoredResult(outcome.query_id, doc_id, float(score), labels.get(doc_id, 0) >= relevant_grade))
    kind = "calibrated probability" if calibration is not None else "probability" if use_probability else "raw score"
    return kind, results


def threshold_sweep(evaluation: Evaluation, top_n: int = 10, relevant_grade: int = 1,
                    steps: int = 200, calibration: Calibration | None = None) -> ThresholdSweep:
    """Precision, recall, F1 and empty-query share at up to ``steps`` thresholds taken from the observed scores (the
    calibrated probabilities, given a ``calibration``)."""
    kind, results = scored_results(evaluation, top_n, relevant_grade, calibration=calibration)
    if not results:
        raise ConfigError("No reranked results to sweep; the evaluation is empty.")
    scores = np.array([r.score for r in results])
    relevant = np.array([r.relevant for r in results])
    owner = _owners(results)
    n_queries = len(evaluation.outcomes)
    # thresholds are observed scores (every one, or ``steps`` of them at even quantiles), so a suggested
    # threshold is a score some result really had
    thresholds = np.unique(scores)
    if len(thresholds) > steps:
        thresholds = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, steps), method="inverted_cdf"))
    points = [_point(float(threshold), scores, relevant, owner, n_queries) for threshold in thresholds]
    return ThresholdSweep(kind, top_n, relevant_grade, tuple(results), tuple(points), n_queries)


def _owners(results: tuple[ScoredResult, ...] | list[ScoredResult]) -> np.ndarray:
    """For each result, the index of its query (in order of first appearance)."""
    query_index = {q: i for i, q in enumerate(dict.fromkeys(r.query_id for r in results))}
    return np.array([query_index[r.query_id] for r in results], dtype=int)


def _point(threshold: float, scores: np.ndarray, relevant: np.ndarray, owner: np.ndarray,
           n_queries: int) -> ThresholdPoint:
    kept = scores >= threshold
    total_relevant = int(relevant.sum())
    hits = int((kept & relevant).sum())
    precision = hits / int(kept.sum()) if kept.any() else None
    recall = hits / total_relevant if total_relevant else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    answered = len(np.unique(owner[kept]))
    return ThresholdPoint(threshold, int(kept.sum()), precision, recall, f1,
                          (n_queries - answered) / n_queries if n_queries else 0.0)

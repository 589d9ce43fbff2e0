"""Calibrating reranker scores into a probability of relevance, fitted on judged labels.

A reranker's raw score orders documents but says nothing absolute: "keep results scoring 3.2 or more" means nothing
to a reader, and a trained single-logit model's sigmoid is often far from the share of results that really are
relevant. A calibration maps the raw score to the probability that a result in a query's top n is relevant (graded
``relevant_grade`` or more), learnt from the labelled pairs of one split:

- Platt scaling (Platt, 1999): a logistic regression on the raw score, p = 1 / (1 + exp(-(a x + b))), a > 0;
- isotonic regression (Zadrozny and Elkan, 2002): the non-decreasing step function that fits the labels best
  (least squares), applied by linear interpolation between its steps and clipped at both ends.

Both are fitted with scikit-learn, but applied from the stored parameters alone (``Calibration.probability``), so a
service reading the pipeline file computes the same probability as the explorer, without scikit-learn. How good a
calibration is is measured on another, held-out split: the Brier score (mean squared error of the probability) and
the expected calibration error (over ten equal-width bins of probability, the count-weighted mean gap between the
mean probability and the share relevant; Naeini et al., 2015). A data set with one labelled split (Cranfield) is
split in two instead (``calibrate_on_halves``): a seeded random half of its queries to fit on, the other half to
measure on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from explorer.errors import ConfigError
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.thresholds import scored_results

CalibrationMethod = Literal["platt", "isotonic"]
CALIBRATION_METHODS: tuple[str, ...] = ("platt", "isotonic")
MIN_PAIRS = 20  # fewer labelled pairs than this fit noise
MIN_PER_CLASS = 3  # and each side needs a few examples
RELIABILITY_BINS = 10
HALVES_SEED = 0  # the fixed seed of the random halves: the same split always gives the same halves
FEW_RESULTS = 100  # a calibration fitted, or measured, on fewer results than this is rough


@dataclass(frozen=True)
class Calibration:
    """A fitted map from a reranker's raw score to a probability of relevance, with what it was fitted on.

    Platt keeps ``slope`` and ``intercept``; isotonic keeps the step function's corners (``thresholds``, the raw
    scores, ascending, and ``probabilities`` at them). ``reranker`` is the model whose scores it was fitted on."""

    method: CalibrationMethod
    split: str
    pairs: int
    top_n: int = 10
    relevant_grade: int = 1
    reranker: str = ""
    slope: float = 0.0
    intercept: float = 0.0
    thresholds: tuple[float, ...] = ()
    probabilities: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        problems = calibration_problems(self.to_json())
        if problems:
            raise ConfigError("The calibration is not valid:\n- " + "\n- ".join(problems))

    def probability(self, raw: np.ndarray) -> np.ndarray:
        """The probability of relevance of each raw score (float64), from the stored parameters only."""
        scores = np.asarray(raw, dtype=np.float64)
        if self.method == "platt":
            # tanh form of the logistic: no overflow warning for very large |a x + b|
            return 0.5 * (1.0 + np.tanh(0.5 * (self.slope * scores + self.intercept)))
        return np.interp(scores, np.asarray(self.thresholds), np.asarray(self.probabilities))

    def raw_threshold(self, probability: float) -> float:
        """The lowest raw score whose probability reaches ``probability`` (-inf when every score does, +inf when none
        does): the same cut-off on the raw scale, for places that threshold raw scores."""
        if not 0.0 <= probability <= 1.0:
            raise ConfigError(f"A probability lies between 0 and 1, got {probability}.")
        if self.method == "platt":
            if probability <= 0.0:
                return -math.inf
            if probability >= 1.0:
                return math.inf
            return (math.log(probability / (1.0 - probability)) - self.intercept) / self.slope
        xs, ys = self.thresholds, self.probabilities
        if probability <= ys[0]:
            return -math.inf
        if probability > ys[-1]:
            return math.inf
        upper = next(i for i, y in enumerate(ys) if y >= probability)  # > 0: ys[0] < probability
        x0, x1, y0, y1 = xs[upper - 1], xs[upper], ys[upper - 1], ys[upper]
        return x0 + (probability - y0) / (y1 - y0) * (x1 - x0)

    def describe(self) -> str:
        """In plain words: the method, and the labels and results it was fitted on."""
        how = ("Platt scaling (a logistic curve on the raw score)" if self.method == "platt"
               else "isotonic regression (a rising step curve on the raw score)")
        return (f"{how}, fitted on {self.pairs} results (each query's top {self.top_n}) of the labelled split "
                f"'{self.split}', relevant from grade {self.relevant_grade}"
                + (f", scored by {self.reranker}" if self.reranker else ""))

    def to_json(self) -> dict[str, Any]:
        """The calibration as the pipeline file holds it."""
        parameters: dict[str, Any] = (
            {"slope": float(self.slope), "intercept": float(self.intercept)} if self.method == "platt"
            else {"thresholds": [float(x) for x in self.thresholds],
                  "probabilities": [float(y) for y in self.probabilities]})
        return {"method": self.method, "split": self.split, "pairs": self.pairs, "top_n": self.top_n,
                "relevant_grade": self.relevant_grade, "reranker": self.reranker, "parameters": parameters}

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> Calibration:
        """The calibration read back from ``to_json``'s form; a ConfigError names each problem by its place."""
        problems = calibration_problems(content)
        if problems:
            raise ConfigError("The calibration is not valid:\n- " + "\n- ".join(problems))
        parameters = content["parameters"]
        common = {"method": content["method"], "split": content["split"], "pairs": content["pairs"],
                  "top_n": content["top_n"], "relevant_grade": content["relevant_grade"],
                  "reranker": content.get("reranker", "")}
        if content["method"] == "platt":
            return cls(**common, slope=float(parameters["slope"]), intercept=float(parameters["intercept"]))
        return cls(**common, thresholds=tuple(map(float, parameters["thresholds"])),
                   probabilities=tuple(map(float, parameters["probabilities"])))


def calibration_problems(content: Any, place: str = "calibration") -> list[str]:
    """What is wrong with a calibration in its JSON form, each problem named by its place ([] when nothing)."""
    if not isinstance(content, dict):
        return [f"{place}: an object was expected"]
    method = content.get("method")
    if method not in CALIBRATION_METHODS:
        return [f"{place}.method: {method!r} is not one of {list(CALIBRATION_METHODS)}"]
    problems = []
    for name in ("split", "reranker"):
        if not isinstance(content.get(name, ""), str):
            problems.append(f"{place}.{name}: a string was expected")
    if not content.get("split"):
        problems.append(f"{place}.split: the split it was fitted on is missing")
    for name, lowest in (("pairs", 2), ("top_n", 1), ("relevant_grade", 1)):
        value = content.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
            problems.append(f"{place}.{name}: a whole number of at least {lowest} was expected, got {value!r}")
    parameters = content.get("parameters")
    where = f"{place}.parameters"
    if not isinstance(parameters, dict):
        return problems + [f"{where}: an object was expected"]
    if method == "platt":
        for name in ("slope", "intercept"):
            if not _is_finite_number(parameters.get(name)):
                problems.append(f"{where}.{name}: a finite number was expected, got {parameters.get(name)!r}")
        if _is_finite_number(parameters.get("slope")) and parameters["slope"] <= 0:
            problems.append(f"{where}.slope: must be above 0 (the probability rises with the score), "
                            f"got {parameters['slope']}")
        return problems
    xs, ys = parameters.get("thresholds"), parameters.get("probabilities")
    for name, values in (("thresholds", xs), ("probabilities", ys)):
        if not isinstance(values, list) or not values or not all(map(_is_finite_number, values)):
            problems.append(f"{where}.{name}: a non-empty list of finite numbers was expected")
            return problems
    if len(xs) != len(ys):
        problems.append(f"{where}.probabilities: {len(ys)} values for {len(xs)} thresholds")
    for name, values in (("thresholds", xs), ("probabilities", ys)):
        falling = next((i for i in range(1, len(values)) if values[i] < values[i - 1]), None)
        if falling is not None:
            problems.append(f"{where}.{name}.{falling}: {values[falling]} is below the value before it "
                            f"({values[falling - 1]}); the values must not decrease")
    outside = next((i for i, y in enumerate(ys) if not 0.0 <= y <= 1.0), None)
    if outside is not None:
        problems.append(f"{where}.probabilities.{outside}: {ys[outside]} is not between 0 and 1")
    return problems


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fit_calibration(raw_scores: Sequence[float] | np.ndarray, relevant: Sequence[bool] | np.ndarray,
                    method: CalibrationMethod, *, split: str = "given pairs", top_n: int = 10,
                    relevant_grade: int = 1, reranker: str = "") -> Calibration:
    """Fits ``method`` to (raw score, relevant) pairs; ``split``, ``top_n``, ``relevant_grade`` and ``reranker``
    record where the pairs came from. Refused with too few pairs, or too few of either kind."""
    if method not in CALIBRATION_METHODS:
        raise ConfigError(f"Unknown calibration method {method!r}; use one of: {', '.join(CALIBRATION_METHODS)}.")
    scores = np.asarray(raw_scores, dtype=np.float64).ravel()
    labels = np.asarray(relevant, dtype=bool).ravel()
    if scores.shape != labels.shape:
        raise ConfigError(f"{len(scores)} scores but {len(labels)} labels; give one label per score.")
    if not np.isfinite(scores).all():
        raise ConfigError("Some reranker scores are not finite numbers (NaN or infinite); they cannot be calibrated.")
    n_relevant = int(labels.sum())
    if len(scores) < MIN_PAIRS or min(n_relevant, len(labels) - n_relevant) < MIN_PER_CLASS:
        raise ConfigError(
            f"Calibration needs at least {MIN_PAIRS} labelled results with at least {MIN_PER_CLASS} relevant and "
            f"{MIN_PER_CLASS} not relevant ones; the split '{split}' gives {len(scores)} ({n_relevant} relevant). "
            "Fit it on a larger labelled split, raise n (results per query), or judge more results on the Judge page.")
    provenance = {"split": split, "pairs": len(scores), "top_n": top_n, "relevant_grade": relevant_grade,
                  "reranker": reranker}
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        # C = inf: no penalty, the plain maximum-likelihood logistic fit Platt describes
        model = LogisticRegression(C=np.inf).fit(scores.reshape(-1, 1), labels)
        slope, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
        if slope <= 0:
            raise ConfigError(
                f"On the split '{split}' the reranker's scores do not rise with relevance (Platt slope {slope:.3g}), "
                "so no probability threshold on them keeps the relevant results. Check the reranker and the labels.")
        return Calibration("platt", **provenance, slope=slope, intercept=intercept)  # type: ignore[arg-type]
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels.astype(np.float64))
    return Calibration("isotonic", **provenance,  # type: ignore[arg-type]
                       thresholds=tuple(float(x) for x in model.X_thresholds_),
                       probabilities=tuple(float(min(max(y, 0.0), 1.0)) for y in model.y_thresholds_))


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of probability [lower, upper): its results, their mean probability and the share relevant."""

    lower: float
    upper: float
    count: int
    mean_probability: float
    fraction_relevant: float


@dataclass(frozen=True)
class Reliability:
    """How well probabilities match the labels: Brier score, expected calibration error and the bins (non-empty)."""

    pairs: int
    brier: float
    ece: float
    bins: tuple[ReliabilityBin, ...]


def reliability(probabilities: Sequence[float] | np.ndarray, relevant: Sequence[bool] | np.ndarray,
                bins: int = RELIABILITY_BINS) -> Reliability:
    """Brier score, expected calibration error over ``bins`` equal-width bins, and the calibration curve's points."""
    from sklearn.metrics import brier_score_loss

    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(relevant, dtype=bool).ravel()
    if p.shape != y.shape or not len(p):
        raise ConfigError(f"Reliability needs one label per probability and at least one of each; got {len(p)} "
                          f"probabilities and {len(y)} labels.")
    if bins < 1:
        raise ConfigError(f"Reliability needs at least one bin, got {bins}.")
    index = np.minimum((p * bins).astype(int), bins - 1)  # 1.0 falls in the last bin
    found, ece = [], 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        if not count:
            continue
        mean_p, share = float(p[members].mean()), float(y[members].mean())
        ece += count / len(p) * abs(mean_p - share)
        found.append(ReliabilityBin(b / bins, (b + 1) / bins, count, mean_p, share))
    return Reliability(len(p), float(brier_score_loss(y, p)), ece, tuple(found))


@dataclass(frozen=True)
class CalibrationReport:
    """A calibration fitted on one split and measured on another (held out): reliability before (the sigmoid of the
    raw score, only where the reranker gives a probability) and after, with the Brier score of always answering
    the share relevant seen when fitting (``no_skill_brier``), the bar a useful probability must beat."""

    calibration: Calibration
    held_out_split: str
    before: Reliability | None
    after: Reliability
    base_rate: float
    no_skill_brier: float
    # the queries it was measured on, where that is a part of a split (``calibrate_on_halves``); () for a whole split
    held_out_queries: tuple[str, ...] = ()

    @property
    def baseline(self) -> tuple[str, float]:
        """What the calibration must beat, and its Brier score on the held-out results: the reranker's own
        probability where it has one, else always answering the share relevant seen when fitting."""
        if self.before is not None:
            return "the reranker's own probability", self.before.brier
        return f"always answering the share relevant ({self.base_rate:.2f})", self.no_skill_brier

    @property
    def warnings(self) -> tuple[str, ...]:
        """What makes this calibration's figures, or the calibration itself, not to be trusted; () when nothing."""
        found = []
        name, brier = self.baseline
        if self.after.brier >= brier:
            found.append(f"The calibrated probability does no better than {name} on the held-out results: Brier "
                         f"{self.after.brier:.3f} against {brier:.3f} (lower is better). It was fitted on too few "
                         "results, or on queries unlike these: do not threshold on it. Fit it on more labelled "
                         "queries, or try the other method.")
        if self.calibration.pairs < FEW_RESULTS:
            found.append(f"It is fitted on only {self.calibration.pairs} results; a fit on {FEW_RESULTS} or more "
                         "is steadier.")
        if self.after.pairs < FEW_RESULTS:
            found.append(f"It is measured on only {self.after.pairs} held-out results, so its Brier score and "
                         "calibration error are rough.")
        return tuple(found)


def calibration_pairs(evaluation: Evaluation, top_n: int = 10, relevant_grade: int = 1) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """The reranker's raw scores of each query's top ``top_n`` reranked results and whether each is relevant (as the
    Score threshold page counts them, unjudged documents included or removed as the evaluation says)."""
    _, results = scored_results(evaluation, top_n, relevant_grade, scale="raw score")
    return (np.array([r.score for r in results], dtype=np.float64),
            np.array([r.relevant for r in results], dtype=bool))


def calibrate(fit_on: Evaluation, held_out: Evaluation, method: CalibrationMethod, top_n: int = 10,
              relevant_grade: int = 1) -> CalibrationReport:
    """Fits ``method`` on ``fit_on``'s labelled results and measures it on ``held_out`` (another split, same
    reranker)."""
    if fit_on.config.split == held_out.config.split:
        raise ConfigError(f"The calibration is fitted on '{fit_on.config.split}' and measured on the same split; "
                          "measure it on another labelled split, so the figures say how it does on unseen queries.")
    if fit_on.reranker != held_out.reranker:
        raise ConfigError(f"The two evaluations ran different rerankers ({fit_on.reranker} and {held_out.reranker}); "
                          "fit and measure a calibration with the same one.")
    raw, relevant = calibration_pairs(fit_on, top_n, relevant_grade)
    calibration = fit_calibration(raw, relevant, method, split=fit_on.config.split, top_n=top_n,
                                  relevant_grade=relevant_grade, reranker=fit_on.reranker or "")
    test_raw, test_relevant = calibration_pairs(held_out, top_n, relevant_grade)
    if not len(test_raw):
        raise ConfigError(f"The held-out split '{held_out.config.split}' has no reranked results to measure on.")
    has_probability = all(o.probabilities is not None for o in held_out.outcomes)
    before = reliability(_sigmoid(test_raw), test_relevant) if has_probability else None
    base_rate = float(relevant.mean())
    no_skill = float(np.mean((base_rate - test_relevant) ** 2))
    return CalibrationReport(calibration, held_out.config.split, before,
                             reliability(calibration.probability(test_raw), test_relevant), base_rate, no_skill)


def halves(evaluation: Evaluation, seed: int = HALVES_SEED) -> tuple[Evaluation, Evaluation]:
    """``evaluation``'s queries in two: a random half (seeded: always the same) to fit a calibration on, and the
    other half to measure it on, each named after the split and its part."""
    query_ids = sorted(o.query_id for o in evaluation.outcomes)
    if len(query_ids) < 2:
        raise ConfigError(f"The split '{evaluation.config.split}' has {len(query_ids)} evaluated query; halves need "
                          "two at least. Label more queries, or judge some on the Judge page.")
    random.Random(seed).shuffle(query_ids)
    middle = (len(query_ids) + 1) // 2
    split = evaluation.config.split
    return (evaluation.subset(query_ids[:middle], f"{split}, fitting half (seed {seed})"),
            evaluation.subset(query_ids[middle:], f"{split}, measuring half (seed {seed})"))


def calibrate_on_halves(evaluation: Evaluation, method: CalibrationMethod, top_n: int = 10, relevant_grade: int = 1,
                        seed: int = HALVES_SEED) -> CalibrationReport:
    """Fits ``method`` on a seeded random half of ``evaluation``'s queries and measures it on the other half (see
    ``halves``): for a data set with one labelled split."""
    fit_on, held_out = halves(evaluation, seed)
    report = calibrate(fit_on, held_out, method, top_n, relevant_grade)
    return replace(report, held_out_queries=tuple(o.query_id for o in held_out.outcomes))


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * values))

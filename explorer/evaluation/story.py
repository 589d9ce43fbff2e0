"""The story of a gain: a baseline against a candidate on one labelled split, told so that a manager can read it.

Either side is one stage of one evaluation (``StorySide``): the first stage against the reranked list of one
configuration, two configurations, or two snapshots. The story holds

- the headline: the metric before and after, the difference with a paired bootstrap 95% interval over queries
  (seeded, so a rerun gives the same interval) and the paired t-test's p-value, in one sentence;
- wins, ties and losses, and every query's change (for the distribution);
- examples: the biggest wins and losses, each with both top lists, the labels, where each document stood in the
  other list, and the ideal order (best labels first);
- the caveat that matters: judged@10 of each list, and the interval again with unjudged documents removed;
- the cost: latency per query of each side, pairs scored per query, time (and, for a priced remote reranker,
  price) per 1,000 queries;
- a verdict that never overclaims: a difference is called better or worse only when the interval excludes 0 and
  the paired test agrees at the same level.

Bootstrap: Efron and Tibshirani, *An Introduction to the Bootstrap* (1993), the percentile interval of the mean
of per-query differences resampled with replacement; Sakai (2006) for its use in IR evaluation.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.evaluation.comparison import configuration_names
from explorer.evaluation.metrics import check_metric
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.significance import TIE, paired_test
from explorer.judging.coverage import LOW_COVERAGE, coverage
from explorer.views.number_format import change_text, metric_text, p_value_text

LEVEL = 0.95
RESAMPLES = 10_000
EXAMPLES = 3  # wins and losses shown, each
TOP = 5  # documents of each list shown in an example
COVERAGE_AT = 10
Kind = Literal["win", "loss"]


@dataclass(frozen=True)
class StorySide:
    """One side of the story: a stage ("first_stage" or "reranked") of an evaluation, under a name to show."""

    evaluation: Evaluation
    stage: str
    name: str

    def __post_init__(self) -> None:
        if self.stage not in self.evaluation.stages():
            ran = ", ".join(self.evaluation.stages())
            raise ConfigError(f"{self.name!r} has no stage {self.stage!r}; it ran {ran}.")


def stage_sides(evaluation: Evaluation) -> tuple[StorySide, StorySide]:
    """The first stage as the baseline and the reranked list as the candidate, of one evaluation."""
    if not evaluation.has_reranker:
        raise ConfigError("This evaluation ran without a reranker, so there is no second stage to tell the story of; "
                          "evaluate with a reranker, or compare two configurations or snapshots.")
    return (StorySide(evaluation, "first_stage", f"{evaluation.config.first_stage_method} only"),
            StorySide(evaluation, "reranked", configuration_names([evaluation]).short[0]))


@dataclass(frozen=True)
class ListedDocument:
    """A document of an example's list: its label (None: unjudged) and its rank in the other list (None: not there)."""

    doc_id: str
    title: str  # untrusted text: escaped wherever it is shown
    grade: int | None
    rank_in_other: int | None


@dataclass(frozen=True)
class Example:
    """One query where the candidate gained (or lost) most, with the top of both lists and the ideal order."""

    kind: Kind
    query_id: str
    query: str
    baseline_value: float
    candidate_value: float
    baseline_top: tuple[ListedDocument, ...]
    candidate_top: tuple[ListedDocument, ...]
    ideal: tuple[ListedDocument, ...]  # the judged documents, best labels first

    @property
    def change(self) -> float:
        """The candidate's value minus the baseline's on this query."""
        return self.candidate_value - self.baseline_value


@dataclass(frozen=True)
class SideCost:
    """What one side costs per query on this machine (from the times kept when each query first ran)."""

    median_ms: float
    p95_ms: float
    pairs_per_query: float  # (query, document) pairs a reranker scored; 0 for the first stage
    seconds_per_1000: float  # the mean time per query, for 1,000 queries
    usd_per_1000: float | None  # for a priced remote reranker; None elsewhere
    note: str  # where the times come from, or how the price was worked out ("" when there is nothing to say)


@dataclass(frozen=True)
class CoverageCaveat:
    """How much of each top ``at`` is judged, and the difference counted with the unjudged documents removed."""

    at: int
    baseline_judged: float
    candidate_judged: float
    difference_removed: float
    ci_removed: tuple[float, float]

    @property
    def is_low(self) -> bool:
        """Whether either list's judged@k is under ``LOW_COVERAGE``: the headline's difference may be biased."""
        return min(self.baseline_judged, self.candidate_judged) < LOW_COVERAGE

    def warning(self, headline_ci: tuple[float, float]) -> str:
        """A plain warning when coverage is low ("" otherwise), saying whether counting the unjudged documents as not
        relevant (the headline, ``headline_ci``) and removing them tell the same story."""
        if not self.is_low:
            return ""
        return (f"Only {self.baseline_judged:.0%} of the baseline's and {self.candidate_judged:.0%} of the candidate's "
                f"top {self.at} are judged, so the headline counts many documents nobody judged as not relevant. With "
                f"them removed the difference is {change_text(self.difference_removed)} (95% CI "
                f"{change_text(self.ci_removed[0])} to {change_text(self.ci_removed[1])}): "
                f"{_agreement(headline_ci, self.ci_removed)} Judging the top of both lists (the Judge page) settles it.")


def _agreement(counted: tuple[float, float], removed: tuple[float, float]) -> str:
    """Whether the interval counting unjudged documents as not relevant and the one without them agree."""
    def way(interval: tuple[float, float]) -> str:
        return "better" if interval[0] > 0 else "worse" if interval[1] < 0 else "unclear"

    first, second = way(counted), way(removed)
    if first == second == "unclear":
        return "neither way of counting shows a significant difference."
    if first == second:
        return f"both ways of counting say the candidate is {first}."
    if first == "unclear":
        return (f"without them the candidate is significantly {second}, so the documents nobody judged may hide a "
                "real difference.")
    if second == "unclear":
        return ("without them the difference is not significant, so the headline's difference may come from the "
                "documents nobody judged.")
    return "the two ways of counting disagree on the direction, so neither can be trusted until more is judged."


@dataclass(frozen=True)
class Story:
    """Baseline against candidate on one split and one metric: the numbers, the examples, the caveat and the cost."""

    metric: str
    split: str
    baseline: str
    candidate: str
    baseline_value: float
    candidate_value: float
    ci: tuple[float, float]
    level: float
    seed: int
    p_value: float | None
    wins: int
    ties: int
    losses: int
    values: dict[str, tuple[float, float]]  # query id -> (baseline's value, candidate's value)
    examples: tuple[Example, ...]
    coverage: CoverageCaveat
    baseline_cost: SideCost
    candidate_cost: SideCost
    note: str = ""  # the models' full names, and the one asked for where another stood in for it

    @property
    def changes(self) -> dict[str, float]:
        """Query id -> the candidate's value minus the baseline's."""
        return {query_id: after - before for query_id, (before, after) in self.values.items()}

    @property
    def difference(self) -> float:
        """The candidate's mean minus the baseline's."""
        return self.candidate_value - self.baseline_value

    @property
    def queries(self) -> int:
        """The queries both sides were scored on."""
        return len(self.values)

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0 and the paired test agrees at the same level."""
        return _same_sign(self.ci) and self.p_value is not None and self.p_value < 1 - self.level

    @property
    def headline(self) -> str:
        """One sentence a manager reads, e.g. "+0.070 nDCG@10 (95% CI +0.030 to +0.110), better on 61 of 100
        queries"."""
        return (f"{change_text(self.difference)} {metric_label(self.metric)} ({self.level:.0%} CI "
                f"{change_text(self.ci[0])} to {change_text(self.ci[1])}): {metric_text(self.baseline_value)} → "
                f"{metric_text(self.candidate_value)}, better on {self.wins} of {self.queries} queries, worse on "
                f"{self.losses}")

    @property
    def coverage_warning(self) -> str:
        """The caveat to show when coverage is low ("" otherwise); see ``CoverageCaveat.warning``."""
        return self.coverage.warning(self.ci)

    @property
    def verdict(self) -> str:
        """What may be said, and no more: better or worse only when significant (``significant``)."""
        p_text = f"paired t-test p = {p_value_text(self.p_value)}"
        if self.significant:
            way = "better" if self.difference > 0 else "worse"
            return (f"{self.candidate} is {way} than {self.baseline} on {metric_label(self.metric)}: the "
                    f"{self.level:.0%} interval excludes 0 ({p_text}).")
        why = ("the interval spans 0" if not _same_sign(self.ci)
               else f"the paired test does not confirm it ({p_text})")
        lead = "ahead" if self.difference > TIE else "behind" if self.difference < -TIE else "level"
        return (f"No significant difference between {self.candidate} and {self.baseline} on "
                f"{metric_label(self.metric)} ({why}; the candidate is {lead} on average over {self.queries} "
                "queries, which may be chance).")


def metric_label(metric: str) -> str:
    """The metric as a manager reads it: "nDCG@10", "MRR@10", "recall@100", "MAP"."""
    kind, k = check_metric(metric)
    names = {"ndcg": "nDCG", "mrr": "MRR", "map": "MAP", "precision": "precision", "recall": "recall"}
    name = names.get(kind, kind)
    return f"{name}@{k}" if k is not None else name


def bootstrap_interval(changes: Sequence[float], resamples: int = RESAMPLES, seed: int = 0,
                       level: float = LEVEL) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``changes`` (one per query, paired): ``resamples`` samples
    of the queries drawn with replacement, their means, and the quantiles at (1 - level)/2 and (1 + level)/2."""
    values = np.asarray(changes, dtype=np.float64)
    if values.ndim != 1 or not len(values):
        raise ConfigError("A bootstrap interval needs at least one query's change; evaluate both sides on a split.")
    if resamples < 1:
        raise ConfigError(f"A bootstrap needs at least 1 resample; got {resamples}.")
    if not 0 < level < 1:
        raise ConfigError(f"The interval's level is a share between 0 and 1 (e.g. 0.95); got {level}.")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    chunk = max(1, 2_000_000 // len(values))  # draws a few MB at a time, whatever the number of queries
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        means[start:start + rows] = values[rng.integers(0, len(values), size=(rows, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def tell(baseline: StorySide, candidate: StorySide, metric: str = "ndcg@10", *, relevant_grade: int = 1,
         titles: Callable[[str], str] = str, seed: int = 0, resamples: int = RESAMPLES, level: float = LEVEL,
         examples: int = EXAMPLES, top: int = TOP, price: Callable[[str, int], tuple[float | None, str]] | None = None,
         ) -> Story:
    """The story of ``candidate`` against ``baseline`` on ``metric``, over the queries both were scored on.

    ``titles``: a document's title or opening words, by id, for the examples. ``price``: (reranker name, depth) ->
    (US dollars per 1,000 queries or None, how it was worked out), for remote rerankers."""
    metric = metric.strip().lower()
    check_metric(metric)
    before = baseline.evaluation.stage_values(baseline.stage, metric, relevant_grade)
    after = candidate.evaluation.stage_values(candidate.stage, metric, relevant_grade)
    queries = sorted(set(before) & set(after))
    if not queries:
        raise ConfigError(f"{baseline.name!r} and {candidate.name!r} share no scored query; evaluate both on the same "
                          "split (and the same labels).")
    changes = {q: after[q] - before[q] for q in queries}
    test = paired_test({q: before[q] for q in queries}, {q: after[q] for q in queries}, metric)
    ci = bootstrap_interval([changes[q] for q in queries], resamples, seed, level)
    wins = sum(1 for value in changes.values() if value > TIE)
    losses = sum(1 for value in changes.values() if value < -TIE)
    return Story(
        metric=metric, split=candidate.evaluation.config.split, baseline=baseline.name, candidate=candidate.name,
        baseline_value=float(np.mean([before[q] for q in queries])),
        candidate_value=float(np.mean([after[q] for q in queries])), ci=ci, level=level, seed=seed,
        p_value=test.p_value, wins=wins, ties=len(queries) - wins - losses, losses=losses,
        values={q: (before[q], after[q]) for q in queries},
        examples=_examples(baseline, candidate, changes, before, after, titles, examples, top),
        coverage=_coverage(baseline, candidate, queries, metric, relevant_grade, seed, resamples, level),
        baseline_cost=side_cost(baseline, price), candidate_cost=side_cost(candidate, price),
        note=_models_note(baseline.evaluation, candidate.evaluation))


def _models_note(*evaluations: Evaluation) -> str:
    """What the short names leave out: each reranker's full name, and the name asked for where another stood in."""
    distinct = list({id(e): e for e in evaluations}.values())
    return configuration_names(distinct).note


def _same_sign(interval: tuple[float, float]) -> bool:
    """Whether an interval lies wholly above 0 or wholly below it."""
    return interval[0] > 0 or interval[1] < 0


def _examples(baseline: StorySide, candidate: StorySide, changes: dict[str, float], before: dict[str, float],
              after: dict[str, float], titles: Callable[[str], str], count: int, top: int) -> tuple[Example, ...]:
    """The ``count`` biggest wins, then the ``count`` biggest losses (ties broken by query id)."""
    ranked_before = baseline.evaluation.ranked(baseline.stage)
    ranked_after = candidate.evaluation.ranked(candidate.stage)
    qrels = candidate.evaluation.qrels
    texts = candidate.evaluation.query_texts
    gains = sorted((q for q, value in changes.items() if value > TIE), key=lambda q: (-changes[q], q))[:count]
    drops = sorted((q for q, value in changes.items() if value < -TIE), key=lambda q: (changes[q], q))[:count]
    chosen: list[Example] = []
    for kind, query_ids in (("win", gains), ("loss", drops)):
        for query_id in query_ids:
            labels = qrels.get(query_id, {})
            first, second = ranked_before.get(query_id, []), ranked_after.get(query_id, [])
            ideal = sorted(((doc, grade) for doc, grade in labels.items() if grade > 0),
                           key=lambda item: (-item[1], item[0]))
            chosen.append(Example(
                kind=kind, query_id=query_id, query=texts.get(query_id, query_id),
                baseline_value=before[query_id], candidate_value=after[query_id],
                baseline_top=_listed(first[:top], second, labels, titles),
                candidate_top=_listed(second[:top], first, labels, titles),
                ideal=tuple(ListedDocument(doc, titles(doc), grade, None) for doc, grade in ideal[:top])))
    return tuple(chosen)


def _listed(shown: Sequence[str], other: Sequence[str], labels: dict[str, int],
            titles: Callable[[str], str]) -> tuple[ListedDocument, ...]:
    positions = {doc: rank for rank, doc in enumerate(other, start=1)}
    return tuple(ListedDocument(doc, titles(doc), labels.get(doc), positions.get(doc)) for doc in shown)


def _coverage(baseline: StorySide, candidate: StorySide, queries: list[str], metric: str, relevant_grade: int,
              seed: int, resamples: int, level: float) -> CoverageCaveat:
    """judged@k of both lists, and the difference and interval with unjudged documents removed (condensed lists)."""
    judged = []
    for side in (baseline, candidate):
        ranked = side.evaluation.ranked(side.stage)
        judged.append(coverage(side.stage, {q: ranked[q] for q in queries}, side.evaluation.qrels, COVERAGE_AT).mean)
    before = baseline.evaluation.counting("removed").stage_values(baseline.stage, metric, relevant_grade)
    after = candidate.evaluation.counting("removed").stage_values(candidate.stage, metric, relevant_grade)
    common = [q for q in queries if q in before and q in after]
    changes = [after[q] - before[q] for q in common]
    difference = float(np.mean(changes)) if changes else 0.0
    ci = bootstrap_interval(changes, resamples, seed, level) if changes else (0.0, 0.0)
    return CoverageCaveat(COVERAGE_AT, judged[0], judged[1], difference, ci)


def side_cost(side: StorySide, price: Callable[[str, int], tuple[float | None, str]] | None = None) -> SideCost:
    """Latency per query of one side (encoding and search, plus reranking for a reranked list), pairs scored, time
    per 1,000 queries, and the price per 1,000 queries of a remote reranker where ``price`` knows one."""
    evaluation = side.evaluation
    outcomes = list(evaluation.outcomes)
    if not outcomes:
        raise ConfigError(f"{side.name!r} has no evaluated query; evaluate it on a labelled split first.")
    note = ""
    if side.stage == "reranked":
        fresh = evaluation.fresh_reranks()
        note = evaluation.rerank_timing_note
        timed = fresh or outcomes
        totals = [o.query_encoding_ms + o.first_stage_ms + o.rerank_ms for o in timed]
        pairs = statistics.mean(o.rerank_pairs or len(o.first_stage) for o in outcomes)
    else:
        totals = [o.query_encoding_ms + o.first_stage_ms for o in outcomes]
        pairs = 0.0
    usd = None
    if side.stage == "reranked" and price is not None and evaluation.reranker:
        usd, how = price(evaluation.reranker, evaluation.config.depth)
        note = " ".join(part for part in (note, how) if part)
    return SideCost(median_ms=float(np.median(totals)), p95_ms=float(np.percentile(totals, 95)),
                    pairs_per_query=float(pairs), seconds_per_1000=float(np.mean(totals)), usd_per_1000=usd, note=note)


def story_json(story: Story) -> dict[str, object]:
    """The story as JSON-ready data (``story --json``)."""

    def listed(documents: tuple[ListedDocument, ...]) -> list[dict[str, object]]:
        return [{"doc_id": d.doc_id, "title": d.title, "grade": d.grade, "rank_in_other": d.rank_in_other}
                for d in documents]

    def cost(side: SideCost) -> dict[str, object]:
        return {"median_ms": side.median_ms, "p95_ms": side.p95_ms, "pairs_per_query": side.pairs_per_query,
                "seconds_per_1000_queries": side.seconds_per_1000, "usd_per_1000_queries": side.usd_per_1000,
                "note": side.note}

    caveat = story.coverage
    return {
        "metric": story.metric, "split": story.split,
        "baseline": {"name": story.baseline, "value": story.baseline_value},
        "candidate": {"name": story.candidate, "value": story.candidate_value},
        "difference": story.difference, "ci": list(story.ci), "level": story.level, "seed": story.seed,
        "p_value": story.p_value, "significant": story.significant, "wins": story.wins, "ties": story.ties,
        "losses": story.losses, "queries": story.queries, "headline": story.headline, "verdict": story.verdict,
        "changes": story.changes, "note": story.note,
        "examples": [{"kind": e.kind, "query_id": e.query_id, "query": e.query, "baseline_value": e.baseline_value,
                      "candidate_value": e.candidate_value, "change": e.change, "baseline_top": listed(e.baseline_top),
                      "candidate_top": listed(e.candidate_top), "ideal": listed(e.ideal)} for e in story.examples],
        "cost": {"baseline": cost(story.baseline_cost), "candidate": cost(story.candidate_cost)},
        "coverage": {"at": caveat.at, "baseline_judged": caveat.baseline_judged,
                     "candidate_judged": caveat.candidate_judged,
                     "difference_unjudged_removed": caveat.difference_removed,
                     "ci_unjudged_removed": list(caveat.ci_removed), "low": caveat.is_low,
                     "warning": story.coverage_warning},
    }

"""Several configurations (first stage x reranker) side by side on the same labelled queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from explorer.errors import ConfigError
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.significance import PairedComparison, Test, paired_test


@dataclass(frozen=True)
class ComparisonRow:
    """One configuration in a comparison: its mean metrics, median latency and paired test against the baseline."""

    name: str  # short: "dense → MiniLM-L6 joint encoder" (``configuration_names``)
    stage: str  # "first_stage" or "reranked": the list this row scores (the last stage that ran)
    metrics: dict[str, float]
    latency_ms: float  # median total per query: encoding + first stage + reranking
    rerank_ms: float
    versus_baseline: PairedComparison | None  # None for the baseline row itself


@dataclass(frozen=True)
class ConfigurationNames:
    """Short names for several configurations, one per evaluation in order, and what they leave out, said once."""

    short: tuple[str, ...]
    # what the short names leave out, e.g. "MiniLM-L6 joint encoder: MiniLM-L6 joint encoder (packaged encoder, no
    # relevance training), asked for as cross-encoder/ms-marco-MiniLM-L-6-v2."; "" when they leave out nothing
    note: str


def configuration_names(evaluations: Sequence[Evaluation]) -> ConfigurationNames:
    """"first stage → reranker" for each evaluation (and its cascade, e.g. "· first stage → top 10"), with the
    reranker named without the remarks in brackets that its full name carries ("(packaged encoder, no relevance
    training)") and without the name it was asked for by: both go into ``note``, once for each reranker, rather than
    into every row and chart label. Where two different rerankers would get the same short name, they keep their
    full names."""
    without = {e.reranker: _without_remarks(e.reranker) for e in evaluations if e.reranker}
    shared = {short for short in without.values() if list(without.values()).count(short) > 1}
    short_model = {name: name if short in shared else short for name, short in without.items()}
    short = tuple((f"{e.config.first_stage_method} → {short_model[e.reranker]}" if e.reranker
                   else f"{e.config.first_stage_method} only") + (f" · {e.cascade}" if e.cascade else "")
                  + (" + signals" if e.signals else "") for e in evaluations)
    notes = {}
    for evaluation in evaluations:
        name = evaluation.reranker
        if not name or name in notes:
            continue
        said = ([name] if short_model[name] != name else []) + (
            [f"asked for as {evaluation.reranker_requested}"] if evaluation.reranker_requested else [])
        if said:
            notes[name] = f"{short_model[name]}: " + ", ".join(said)
    signals = next((e.signals for e in evaluations if e.signals), None)
    said = "; ".join(notes.values()) + "." if notes else ""
    if signals:
        said = (said + " " if said else "") + f"Signals: {signals}."
    return ConfigurationNames(short, said)


def _without_remarks(name: str) -> str:
    """``name`` without a trailing remark in brackets: "reranker trained here (cran)" -> "reranker trained here"."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", name) or name


def final_stage(evaluation: Evaluation) -> str:
    """The stage a configuration is judged on: "reranked" when a reranker ran, else "first_stage"."""
    return "reranked" if evaluation.has_reranker else "first_stage"


def compare(evaluations: Sequence[Evaluation], metrics: Sequence[str], test_metric: str = "ndcg@10",
            test: Test = "paired t-test", relevant_grade: int = 1) -> list[ComparisonRow]:
    """One row per evaluation, named by ``configuration_names``; the first one is the baseline the others are tested
    against."""
    if not evaluations:
        raise ConfigError("Nothing to compare: evaluate at least one configuration.")
    short = configuration_names(evaluations).short
    names = list(dict.fromkeys([*metrics, test_metric]))
    scores = []
    for evaluation in evaluations:
        stage = final_stage(evaluation)
        # the evaluation's own per-query values: computed once, shared with its pages, tables and snapshots
        scores.append({name: evaluation.stage_values(stage, name, relevant_grade) for name in names})
    rows = []
    for position, (evaluation, per_query) in enumerate(zip(evaluations, scores)):
        latency = evaluation.latency_ms()
        versus = None
        if position > 0:
            versus = paired_test(scores[0][test_metric], per_query[test_metric], test_metric, test)
        rows.append(ComparisonRow(
            name=short[position], stage=final_stage(evaluation),
            metrics={n: sum(v.values()) / len(v) for n, v in per_query.items() if n in metrics},
            latency_ms=latency["query_encoding"] + latency["first_stage"] + latency["rerank"],
            rerank_ms=latency["rerank"], versus_baseline=versus,
        ))
    return rows

"""Configurations compared: short names with what they leave out said once, the table's test columns, the chart's
latency axis from 0 ms."""

from __future__ import annotations

from dataclasses import replace

import pytest

from explorer.evaluation.charts import comparison_scatter
from explorer.evaluation.comparison import compare, configuration_names
from explorer.evaluation.runner import EvalConfig, Evaluation, QueryOutcome
from explorer.evaluation.tables import comparison_table

STAND_IN = "MiniLM-L6 joint encoder (packaged encoder, no relevance training)"
ASKED = "cross-encoder/ms-marco-MiniLM-L-6-v2"


def evaluation(method: str, reranker: str | None, requested: str | None = None, rerank_ms: float = 40.0) -> Evaluation:
    """Two queries; the relevant document d1 at rank 1 of q1 and rank 2 of q2 in the final list."""
    lists = {"q1": ("d1", "d2"), "q2": ("d3", "d1")}
    outcomes = tuple(QueryOutcome(q, docs, (0.9, 0.8), docs if reranker else None, (2.0, 1.0) if reranker else None,
                                  None, 5.0, 1.0, rerank_ms if reranker else 0.0) for q, docs in lists.items())
    return Evaluation(f"{method} → {reranker}", EvalConfig("test", method, depth=2, rerank=reranker is not None),
                      "bi", reranker, outcomes, {"q1": {"d1": 1}, "q2": {"d1": 1}}, {"q1": "one", "q2": "two"},
                      reranker_requested=requested)


def test_short_names_leave_the_remarks_and_the_name_asked_for_to_one_note():
    names = configuration_names([evaluation("dense", None), evaluation("dense", STAND_IN, ASKED),
                                 evaluation("hybrid", STAND_IN, ASKED)])
    assert names.short == ("dense only", "dense → MiniLM-L6 joint encoder", "hybrid → MiniLM-L6 joint encoder")
    # said once, however many configurations share the reranker
    assert names.note == f"MiniLM-L6 joint encoder: {STAND_IN}, asked for as {ASKED}."
    assert names.note.count("asked for") == 1


def test_rerankers_that_would_share_a_short_name_keep_their_full_names():
    first, second = "reranker trained here (cran)", "reranker trained here (kb)"
    names = configuration_names([evaluation("dense", first), evaluation("dense", second)])
    assert names.short == (f"dense → {first}", f"dense → {second}")
    assert names.note == ""


def test_a_name_without_remarks_is_kept_and_needs_no_note():
    names = configuration_names([evaluation("bm25", ASKED)])
    assert names.short == (f"bm25 → {ASKED}",) and names.note == ""


def test_rows_and_chart_labels_use_the_short_names_and_the_test_has_columns_of_its_own():
    rows = compare([evaluation("dense", None), evaluation("dense", STAND_IN, ASKED)], ["mrr@10"], test_metric="mrr@10")
    assert [row.name for row in rows] == ["dense only", "dense → MiniLM-L6 joint encoder"]
    assert list(comparison_scatter(rows, "mrr@10").data[0].text) == [row.name for row in rows]
    table = comparison_table(rows)
    assert list(table.columns) == ["configuration", "mrr@10", "latency ms", "rerank ms", "Δ mrr@10",
                                   "wins / losses / ties", "p-value", "vs baseline"]
    assert table["mrr@10"].tolist() == pytest.approx([0.75, 0.75])  # whole values: the pages format them
    assert table["vs baseline"].tolist() == ["baseline", "not computed (the two systems score every query the same)"]
    assert table["wins / losses / ties"].tolist() == ["", "0 / 0 / 2"]
    assert table["p-value"].isna().all() and table["p-value"].dtype == float


def test_the_latency_axis_starts_at_zero():
    rows = compare([evaluation("dense", None), evaluation("dense", STAND_IN, rerank_ms=800.0)], ["ndcg@10"])
    axis = comparison_scatter(rows, "ndcg@10").layout.xaxis.range
    assert axis[0] == 0 and axis[1] == pytest.approx(1.25 * (5.0 + 1.0 + 800.0))


def test_names_go_where_they_meet_no_other_name_or_point_and_stay_within_the_chart():
    """Points far apart for the axis but with long names, close in height: the names would overlap side by side."""
    long_name = "reranker trained here · first stage → top 10"
    rows = compare([evaluation("dense", long_name, rerank_ms=110.0), evaluation("bm25", long_name, rerank_ms=210.0),
                    evaluation("hybrid", long_name, rerank_ms=1070.0)], ["ndcg@10"])
    lower = [replace(rows[0], metrics={"ndcg@10": 0.380}), replace(rows[1], metrics={"ndcg@10": 0.378}),
             replace(rows[2], metrics={"ndcg@10": 0.377})]
    # the first name, centred above or below its point near 0 ms, would run past the chart's left side: right of
    # it; the second, above its point, would meet it: below
    assert list(comparison_scatter(lower, "ndcg@10").data[0].textposition) == ["middle right", "bottom center",
                                                                              "top center"]
    # short names at the same places do not meet, and stay above their points
    short = [replace(row, name=f"c{i}") for i, row in enumerate(lower)]
    assert list(comparison_scatter(short, "ndcg@10").data[0].textposition) == ["top center"] * 3
    # a point level with another's name is not covered by a name of its own: the next free place
    level = [replace(row, name=f"configuration {i}", latency_ms=ms, metrics={"ndcg@10": value})
             for i, (row, ms, value) in enumerate(zip(lower, (100.0, 110.0, 1000.0), (0.5, 0.5, 0.4)))]
    assert list(comparison_scatter(level, "ndcg@10").data[0].textposition) == ["top center", "bottom center",
                                                                              "top center"]

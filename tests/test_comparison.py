"""Configurations compared: short names with what they leave out said once, the table's test columns, the chart's
latency axis from 0 ms."""

from __future__ import annotations

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

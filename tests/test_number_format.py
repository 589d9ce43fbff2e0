"""The pages' one rule for numbers: metrics with 3 decimals, p-values with 3 significant figures, ms with 1 decimal."""

from __future__ import annotations

import pandas as pd

from explorer.evaluation.significance import PairedComparison
from explorer.views.number_format import change_text, column_formats, metric_text, p_value_text


def test_metrics_changes_and_p_values_are_written_by_one_rule():
    assert [metric_text(0.383), metric_text(0.38431), metric_text(1.0)] == ["0.383", "0.384", "1.000"]
    assert change_text(0.0123) == "+0.012" and change_text(-0.5) == "-0.500"
    assert [p_value_text(0.04213), p_value_text(1.234e-7), p_value_text(0.5)] == ["0.0421", "1.23e-07", "0.5"]
    assert p_value_text(None) == "not computed"


def test_each_number_column_gets_the_format_of_its_kind():
    table = pd.DataFrame({"configuration": ["a", "b"], "ndcg@10": [0.383, 0.3843], "queries": [53, 53],
                          "latency ms": [12.34, 5.0], "p-value": [None, None], "Δ ndcg@10": [None, 0.01]})
    assert column_formats(table) == {"ndcg@10": "%.3f", "latency ms": "%.1f", "p-value": "%.3g", "Δ ndcg@10": "%.3f"}
    assert column_formats(table, whole=["ndcg@10"]).get("ndcg@10") is None
    assert ["%.3f" % value for value in table["ndcg@10"]] == ["0.383", "0.384"]  # never 0.383 beside 0.3843


def test_the_paired_test_summary_follows_the_rule():
    result = PairedComparison("paired t-test", "ndcg@10", 53, 0.38431, 0.4, 30, 10, 13, 0.0001234)
    assert result.summary() == ("ndcg@10: 0.384 → 0.400 (Δ +0.016); 30 wins, 10 losses, 13 ties over 53 queries; "
                                "paired t-test p = 0.000123, significant at α = 0.05")

"""What a run will cost before it starts: pairs (queries x depth per reranker) and the time at the pace measured here."""

from __future__ import annotations

import pytest

from explorer.evaluation.run_cost import pairs_per_second, rerank_cost
from explorer.models.catalog import find_preset
from explorer.models.measured_speed import MeasuredSpeed

MINILM = "cross-encoder/ms-marco-MiniLM-L-6-v2"
MEASURED = MeasuredSpeed(MINILM, 22.7, 100.0, "openvino · int8", "2026-12-04T00:00:00+00:00")


def test_pairs_are_queries_times_depth_for_each_configuration_with_a_reranker():
    cost = rerank_cost(225, 100, [None, MINILM, MINILM], MEASURED)
    assert cost.pairs == 2 * 225 * 100
    assert cost.seconds == pytest.approx(2 * 225 * 100 / 100.0)  # 450 s at 100 pairs/s
    assert cost.said().startswith("45,000 (query, document) pairs to score: about 8 min at the speed measured")


def test_another_preset_is_timed_at_the_measured_pace_scaled_by_its_size():
    bigger = find_preset("BAAI/bge-reranker-v2-m3")
    assert bigger is not None
    expected = 100.0 * 22.7 / bigger.params_m
    assert pairs_per_second(bigger.name, MEASURED) == pytest.approx(expected)
    assert rerank_cost(10, 10, [bigger.name], MEASURED).seconds == pytest.approx(100 / expected)


def test_without_a_measurement_or_for_a_remote_reranker_the_time_is_not_guessed():
    unmeasured = rerank_cost(50, 100, [MINILM], None)
    assert unmeasured.seconds is None and "no speed has been measured here yet" in unmeasured.said()
    remote = rerank_cost(50, 100, ["cohere:rerank-v3.5"], MEASURED)
    assert remote.pairs == 5000 and remote.seconds is None and "cohere:rerank-v3.5" in remote.said()
    mixed = rerank_cost(50, 100, [MINILM, "cohere:rerank-v3.5"], MEASURED)
    assert mixed.seconds == pytest.approx(50.0) and mixed.unknown == ("cohere:rerank-v3.5",)


def test_a_first_stage_only_run_scores_no_pair():
    cost = rerank_cost(225, 100, [None], MEASURED)
    assert cost.pairs == 0 and cost.said().startswith("No reranker runs")

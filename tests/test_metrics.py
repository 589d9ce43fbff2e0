"""The ranx adapter against nDCG and MRR worked out by hand."""

import math

import pytest

from explorer.errors import ConfigError
from explorer.metrics import mean_metrics


def test_graded_ndcg_and_mrr_by_hand():
    qrels = {"q1": {"a": 3, "b": 1, "z": 0}, "q2": {"c": 2}}
    ranked = {"q1": ["a", "b", "x"], "q2": ["x", "c"]}
    # q1 is ideal: 1.0. q2: gain 2^2-1 = 3 at rank 2 -> 3/log2(3); ideal 3 at rank 1 -> 1/log2(3)
    expected_ndcg = (1.0 + 1 / math.log2(3)) / 2
    scores = mean_metrics(qrels, ranked, ["ndcg@10", "mrr@10"])
    assert scores["ndcg@10"] == pytest.approx(expected_ndcg, abs=1e-9)
    assert scores["mrr@10"] == pytest.approx((1.0 + 0.5) / 2)


def test_ranked_order_is_kept_and_unlabelled_queries_are_left_out():
    qrels = {"q1": {"b": 1}, "q9": {"a": 0}}
    assert mean_metrics(qrels, {"q1": ["a", "b"], "q9": ["a"]}, ["ndcg@1"])["ndcg@1"] == 0.0
    with pytest.raises(ConfigError, match="No query of this run has a positive label"):
        mean_metrics({"q9": {"a": 0}}, {"q9": ["a"]}, ["ndcg@10"])

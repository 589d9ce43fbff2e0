"""The metrics (trec_eval's code, through ir-measures) against values worked out by hand."""

import math

import pytest

from explorer.errors import ConfigError
from explorer.evaluation.metrics import evaluated_queries, mean_metrics, per_query_metrics


def test_graded_ndcg_and_mrr_by_hand():
    qrels = {"q1": {"a": 3, "b": 1, "z": 0}, "q2": {"c": 2}}
    ranked = {"q1": ["a", "b", "x"], "q2": ["x", "c"]}
    # q1 is ideal: 1.0. q2: gain 2 at rank 2 -> 2/log2(3); ideal 2 at rank 1 -> nDCG 1/log2(3)
    expected_ndcg = (1.0 + 1 / math.log2(3)) / 2
    scores = mean_metrics(qrels, ranked, ["ndcg@10", "mrr@10"])
    assert scores["ndcg@10"] == pytest.approx(expected_ndcg, abs=1e-9)
    assert scores["mrr@10"] == pytest.approx((1.0 + 0.5) / 2)


def test_ranked_order_is_kept_and_unlabelled_queries_are_left_out():
    qrels = {"q1": {"b": 1}, "q9": {"a": 0}}
    assert mean_metrics(qrels, {"q1": ["a", "b"], "q9": ["a"]}, ["ndcg@1"])["ndcg@1"] == 0.0
    with pytest.raises(ConfigError, match="No query of this run has a relevant label"):
        mean_metrics({"q9": {"a": 0}}, {"q9": ["a"]}, ["ndcg@10"])


QRELS = {"q1": {"a": 3, "b": 1, "c": 2}}


def test_graded_ndcg_uses_linear_gains():
    # [b, x, a]: DCG = 1/log2(2) + 0 + 3/log2(4) = 2.5; ideal [a, c, b]: 3 + 2/log2(3) + 1/log2(4)
    expected = 2.5 / (3 + 2 / math.log2(3) + 0.5)
    value = mean_metrics(QRELS, {"q1": ["b", "x", "a"]}, ["ndcg@3"])["ndcg@3"]
    assert value == pytest.approx(expected, abs=1e-9)


def test_binary_metrics_follow_the_relevant_grade():
    ranked = {"q1": ["b", "x", "a"]}
    any_grade = mean_metrics(QRELS, ranked, ["mrr@10", "recall@2", "precision@3"])
    assert any_grade == pytest.approx({"mrr@10": 1.0, "recall@2": 1 / 3, "precision@3": 2 / 3})
    # grade >= 2: a and c are relevant; b is not
    strict = mean_metrics(QRELS, ranked, ["mrr@10", "recall@2", "recall@3", "precision@3", "map"], relevant_grade=2)
    # AP: a found at rank 3 with precision 1/3; c never found -> (1/3) / 2
    assert strict == pytest.approx({"mrr@10": 1 / 3, "recall@2": 0.0, "recall@3": 0.5, "precision@3": 1 / 3,
                                    "map": 1 / 6})


def test_ties_are_broken_by_the_list_order():
    qrels = {"q1": {"a": 1}}
    assert mean_metrics(qrels, {"q1": ["a", "b"]}, ["mrr@10"])["mrr@10"] == 1.0
    assert mean_metrics(qrels, {"q1": ["b", "a"]}, ["mrr@10"])["mrr@10"] == 0.5


def test_every_cut_off_applies_mrr_included():
    # trec_eval's reciprocal rank has no cut-off of its own: mrr@1 must not see the relevant document at rank 2
    qrels = {"q1": {"a": 1}, "q2": {"c": 2, "d": 1}}
    ranked = {"q1": ["b", "a"], "q2": ["c", "x", "d"]}
    assert mean_metrics(qrels, ranked, ["mrr@1", "mrr@2", "precision@1", "recall@1", "map@1", "ndcg@1"]) == \
        pytest.approx({"mrr@1": 0.5, "mrr@2": 0.75, "precision@1": 0.5, "recall@1": 0.25, "map@1": 0.25,
                       "ndcg@1": 0.5})


def test_k_larger_than_the_list():
    qrels = {"q1": {"a": 1, "b": 1}}
    values = mean_metrics(qrels, {"q1": ["a"]}, ["ndcg@100", "precision@100", "recall@100"])
    assert values["ndcg@100"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert values["precision@100"] == pytest.approx(1 / 100)  # precision divides by k, as trec_eval does
    assert values["recall@100"] == pytest.approx(0.5)  # the missed positive counts against recall


def test_query_without_a_relevant_document_is_left_out():
    qrels = {"q1": {"a": 1}, "q2": {"b": 0}}
    per_query = per_query_metrics(qrels, {"q1": ["a"], "q2": ["b"]}, ["ndcg@10"])
    assert per_query == {"ndcg@10": {"q1": 1.0}}
    assert evaluated_queries(qrels, {"q1": [], "q2": []}) == ["q1"]


def test_an_empty_ranked_list_scores_zero():
    assert mean_metrics({"q1": {"a": 2}}, {"q1": []}, ["ndcg@10", "recall@10"]) == {"ndcg@10": 0.0, "recall@10": 0.0}


@pytest.mark.parametrize("name", ["ndcg", "bleu@10", "ndcg@0", "recall@x"])
def test_unknown_metric_names_list_the_valid_ones(name):
    with pytest.raises(ConfigError, match="Use one of ndcg, mrr, recall, precision, map"):
        mean_metrics(QRELS, {"q1": ["a"]}, [name])

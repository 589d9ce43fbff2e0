"""Threshold sweeps and paired tests on hand-made evaluations, checked against values worked out by hand."""

import pytest

from explorer.errors import ConfigError
from explorer.evaluation.runner import EvalConfig, Evaluation, QueryOutcome
from explorer.evaluation.significance import paired_test
from explorer.evaluation.thresholds import threshold_sweep


def outcome(query_id, ranked, scores):
    return QueryOutcome(query_id, tuple(ranked), tuple(1.0 / (i + 1) for i in range(len(ranked))), tuple(ranked),
                        tuple(scores), None, 1.0, 1.0, 10.0)


@pytest.fixture
def evaluation():
    # q1: a (relevant, 5.0), b (not, 3.0), c (relevant, 1.0); q2: d (not, 4.0), e (not, 2.0)
    outcomes = (outcome("q1", "abc", [5.0, 3.0, 1.0]), outcome("q2", "de", [4.0, 2.0]))
    qrels = {"q1": {"a": 2, "c": 1}, "q2": {"d": 0, "z": 1}}
    return Evaluation("hand", EvalConfig("test"), "bi", "rr", outcomes, qrels, {"q1": "one", "q2": "two"})


def point(sweep, threshold):
    return next(p for p in sweep.points if p.threshold == pytest.approx(threshold))


def test_precision_recall_and_empty_queries_at_each_observed_score(evaluation):
    sweep = threshold_sweep(evaluation, top_n=3)
    assert sweep.score_kind == "raw score" and sweep.n_queries == 2
    lowest = point(sweep, 1.0)  # everything kept: 2 relevant of 5
    assert (lowest.kept, lowest.precision, lowest.recall, lowest.queries_left_empty) == (5, 0.4, 1.0, 0.0)
    at_four = point(sweep, 4.0)  # a and d kept
    assert (at_four.kept, at_four.precision, at_four.recall) == (2, 0.5, 0.5)
    assert at_four.f1 == pytest.approx(0.5)
    at_five = point(sweep, 5.0)  # only a: q2 has no result left
    assert (at_five.precision, at_five.recall, at_five.queries_left_empty) == (1.0, 0.5, 0.5)


def test_the_suggested_threshold_is_the_lowest_reaching_the_target(evaluation):
    sweep = threshold_sweep(evaluation, top_n=3)
    assert sweep.suggest(1.0).threshold == pytest.approx(5.0)
    assert sweep.suggest(0.5).threshold == pytest.approx(4.0)
    assert sweep.suggest(0.3).threshold == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="target precision"):
        sweep.suggest(0.0)


def test_top_n_limits_what_is_kept(evaluation):
    sweep = threshold_sweep(evaluation, top_n=1)
    assert [(r.doc_id, r.relevant) for r in sweep.results] == [("a", True), ("d", False)]


def test_a_run_without_reranker_scores_is_refused(evaluation):
    bare = Evaluation("bare", EvalConfig("test", rerank=False), "bi", None,
                      (QueryOutcome("q1", ("a",), (1.0,), None, None, None, 1.0, 1.0, 0.0),), {"q1": {"a": 1}}, {})
    with pytest.raises(ConfigError, match="evaluate with a reranker"):
        threshold_sweep(bare)


def test_paired_tests_count_wins_and_give_p_values():
    a = {"q1": 0.2, "q2": 0.5, "q3": 0.4, "q4": 0.9, "q5": 0.3}
    b = {"q1": 0.6, "q2": 0.7, "q3": 0.4, "q4": 0.8, "q5": 0.9, "q9": 1.0}  # q9 is not shared: left out
    result = paired_test(a, b, "ndcg@10")
    assert (result.n_queries, result.wins, result.losses, result.ties) == (5, 3, 1, 1)
    assert result.mean_delta == pytest.approx(0.22)
    # t = mean(d) / (sd(d) / sqrt(5)) with d = [.4, .2, 0, -.1, .6]: sd = 0.2864, t = 1.7178, df 4 -> p = 0.161
    assert result.p_value == pytest.approx(0.161, abs=0.002)
    assert "paired t-test p = 0.16" in result.summary()
    permutation = paired_test(a, b, "ndcg@10", test="permutation")
    assert 0.1 < permutation.p_value < 0.6  # 2^4 distinct sign flips (one zero): an exact p of 5/16 or 6/16
    assert paired_test(a, b, "ndcg@10", test="wilcoxon signed-rank").p_value == pytest.approx(0.25, abs=0.01)


def test_paired_tests_that_cannot_run_say_why():
    same = {"q1": 0.5, "q2": 0.5}
    assert paired_test(same, dict(same), "mrr@10").p_value is None
    assert "every query the same" in paired_test(same, dict(same), "mrr@10").summary()
    with pytest.raises(ConfigError, match="share no evaluated query"):
        paired_test({"q1": 1.0}, {"q2": 1.0}, "mrr@10")
    with pytest.raises(ConfigError, match="Unknown test"):
        paired_test(same, same, "mrr@10", test="z-test")


@pytest.mark.parametrize(("a", "b", "expected"), [
    ({"q1": 0.2}, {"q1": 0.9}, "untested"),  # one query: no test can run, so no verdict either way
    ({"q1": 0.5, "q2": 0.5}, {"q1": 0.5, "q2": 0.5}, "untested"),  # every query tied
    ({f"q{i}": 0.2 for i in range(12)}, {f"q{i}": 0.8 + 0.01 * i for i in range(12)}, "helps"),
    ({f"q{i}": 0.8 + 0.01 * i for i in range(12)}, {f"q{i}": 0.2 for i in range(12)}, "hurts"),
    ({"q1": 0.2, "q2": 0.6, "q3": 0.5}, {"q1": 0.3, "q2": 0.5, "q3": 0.55}, "unclear"),
])
def test_the_verdict_says_helps_or_hurts_only_when_a_test_says_so(a, b, expected):
    verdict, text = paired_test(a, b, "ndcg@10").verdict()
    assert verdict == expected
    assert ("No paired test could run" in text) == (expected == "untested")


def test_a_threshold_chosen_from_few_results_is_warned_about_with_its_interval(evaluation):
    from explorer.evaluation.thresholds import SMALL_SAMPLE, precision_interval

    sweep = threshold_sweep(evaluation, top_n=3)
    at_four = point(sweep, 4.0)  # 2 kept, 1 relevant: Wilson's 95% interval of 1/2 is 0.095-0.905
    assert precision_interval(at_four) == pytest.approx((0.0945, 0.9055), abs=1e-3)
    warning = sweep.small_sample_warning(at_four)
    assert "chosen from 5 results (2 queries, top 3 each)" in warning
    assert "precision 0.50 rests on the 2 results it keeps: the 95% interval is 0.09 to 0.91" in warning
    assert "nothing" not in warning and SMALL_SAMPLE == 30


def test_ten_results_at_precision_0_8_give_the_interval_0_49_to_0_94_and_thirty_give_no_warning():
    from explorer.evaluation.thresholds import ThresholdPoint, ThresholdSweep, precision_interval

    ten = ThresholdPoint(0.5, 10, 0.8, 0.5, 0.6, 0.0)
    assert precision_interval(ten) == pytest.approx((0.490, 0.943), abs=1e-3)
    sweep = ThresholdSweep("raw score", 10, 1, (), (ten,), 1)
    assert "from 0 results (1 query, top 10 each)" in sweep.small_sample_warning(ten)
    assert sweep.small_sample_warning(ThresholdPoint(0.5, 30, 0.8, 0.5, 0.6, 0.0)) is None
    assert "keeps none of them" in sweep.small_sample_warning(ThresholdPoint(9.0, 0, None, 0.0, 0.0, 1.0))

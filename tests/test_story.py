"""The story of a gain: the bootstrap interval against one worked out by hand, the verdict that never overclaims,
the examples, the coverage caveat and the cost, on hand-built evaluations."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from explorer.errors import ConfigError
from explorer.evaluation.runner import EvalConfig, Evaluation, QueryOutcome
from explorer.evaluation.story import (
    StorySide,
    bootstrap_interval,
    metric_label,
    stage_sides,
    story_json,
    tell,
)


def reranked_evaluation(lists: dict[str, tuple[list[str], list[str]]], qrels: dict[str, dict[str, int]],
                        rerank_ms: float = 40.0) -> Evaluation:
    """One evaluation with both stages: query id -> (first-stage list, reranked list)."""
    outcomes = tuple(
        QueryOutcome(q, tuple(first), tuple(1.0 / (i + 1) for i in range(len(first))), tuple(second),
                     tuple(float(len(second) - i) for i in range(len(second))), None, 2.0, 1.0,
                     rerank_ms + number, rerank_pairs=len(first))
        for number, (q, (first, second)) in enumerate(lists.items()))
    return Evaluation("dense → reranker", EvalConfig("test", depth=4), "bi", "reranker", outcomes, qrels,
                      {q: f"query {q}" for q in lists})


def test_the_interval_is_the_bootstrap_worked_out_by_hand():
    # Changes (0, 0, 0.3): a resample's mean is 0.1 x (times 0.3 was drawn), binomial(3, 1/3): 0 with 8/27,
    # 0.1 with 12/27, 0.2 with 6/27, 0.3 with 1/27. The 2.5% quantile is 0 (8/27 > 2.5%) and the 97.5% is 0.3
    # (the mass below 0.3 is 26/27 = 96.3% < 97.5%).
    exact = {}
    for draw in itertools.product(range(3), repeat=3):
        mean = round(sum((0.0, 0.0, 0.3)[i] for i in draw) / 3, 10)
        exact[mean] = exact.get(mean, 0) + 1 / 27
    assert exact == pytest.approx({0.0: 8 / 27, 0.1: 12 / 27, 0.2: 6 / 27, 0.3: 1 / 27})
    assert bootstrap_interval([0.0, 0.0, 0.3], seed=3) == pytest.approx((0.0, 0.3))
    # Changes (-1, 1): the mean of two draws is -1 (1/4), 0 (1/2) or 1 (1/4): the 95% interval is (-1, 1).
    assert bootstrap_interval([-1.0, 1.0], seed=0) == pytest.approx((-1.0, 1.0))
    # A 40% interval of the same: the 30% and 70% quantiles fall on 0.
    assert bootstrap_interval([-1.0, 1.0], level=0.4) == pytest.approx((0.0, 0.0))


def test_the_interval_is_reproducible_with_a_seed_and_brackets_the_mean():
    rng = np.random.default_rng(7)
    changes = rng.normal(0.05, 0.2, size=120)
    first = bootstrap_interval(changes, seed=11)
    assert bootstrap_interval(changes, seed=11) == first
    assert first[0] < changes.mean() < first[1]
    # the normal approximation's interval, mean +- 1.96 standard errors, within a few thousandths
    half = 1.96 * changes.std(ddof=1) / np.sqrt(len(changes))
    assert first == pytest.approx((changes.mean() - half, changes.mean() + half), abs=0.006)
    with pytest.raises(ConfigError, match="at least one"):
        bootstrap_interval([])
    with pytest.raises(ConfigError, match="between 0 and 1"):
        bootstrap_interval([0.1], level=95)


def test_a_clear_gain_is_called_better_with_its_examples_and_cost():
    # Nine queries, each with its answer d1 at rank 4 in the first stage and rank 1 after reranking (MRR 0.25 -> 1),
    # except q9, where the reranker moves it from 1 to 2 (1 -> 0.5).
    lists = {f"q{n}": (["d2", "d3", "d4", "d1"], ["d1", "d2", "d3", "d4"]) for n in range(1, 9)}
    lists["q9"] = (["d1", "d2", "d3", "d4"], ["d2", "d1", "d3", "d4"])
    qrels = {q: {"d1": 3, "d2": 0} for q in lists}
    baseline, candidate = stage_sides(reranked_evaluation(lists, qrels))
    story = tell(baseline, candidate, "mrr@10", titles=lambda doc: f"title of {doc}", seed=1)
    assert story.baseline_value == pytest.approx((8 * 0.25 + 1.0) / 9)
    assert story.candidate_value == pytest.approx((8 * 1.0 + 0.5) / 9)
    assert (story.wins, story.ties, story.losses) == (8, 0, 1)
    assert story.ci[0] <= story.difference <= story.ci[1] and story.ci[0] > 0
    assert story.p_value is not None and story.p_value < 0.05 and story.significant
    assert "better than" in story.verdict and "No significant" not in story.verdict
    assert story.headline.startswith("+0.611 MRR@10 (95% CI") and "better on 8 of 9 queries" in story.headline
    wins = [e for e in story.examples if e.kind == "win"]
    loss = [e for e in story.examples if e.kind == "loss"]
    assert [e.query_id for e in wins] == ["q1", "q2", "q3"] and [e.query_id for e in loss] == ["q9"]
    top = wins[0].candidate_top[0]
    assert (top.doc_id, top.title, top.grade, top.rank_in_other) == ("d1", "title of d1", 3, 4)
    assert [d.doc_id for d in wins[0].ideal] == ["d1"]  # grade 0 is not in the ideal order
    assert story.baseline_cost.pairs_per_query == 0 and story.candidate_cost.pairs_per_query == 4
    # encoding 2 ms + search 1 ms, plus reranking 40 + n ms on the n-th query
    assert story.baseline_cost.median_ms == pytest.approx(3.0)
    assert story.candidate_cost.median_ms == pytest.approx(3.0 + 44.0)
    assert story.candidate_cost.seconds_per_1000 == pytest.approx(3.0 + 44.0)
    data = json.loads(json.dumps(story_json(story)))
    assert {"metric", "baseline", "candidate", "difference", "ci", "p_value", "wins", "ties", "losses", "examples",
            "cost", "coverage"} <= set(data)
    assert data["examples"][0]["candidate_top"][0]["rank_in_other"] == 4


def test_an_interval_spanning_zero_is_no_significant_difference():
    # Two wins and two losses of the same size: the mean change is 0 and the interval spans it.
    lists = {"q1": (["d2", "d1"], ["d1", "d2"]), "q2": (["d2", "d1"], ["d1", "d2"]),
             "q3": (["d1", "d2"], ["d2", "d1"]), "q4": (["d1", "d2"], ["d2", "d1"])}
    qrels = {q: {"d1": 1} for q in lists}
    story = tell(*stage_sides(reranked_evaluation(lists, qrels)), "mrr@10")
    assert story.ci[0] < 0 < story.ci[1]
    assert not story.significant
    assert story.verdict.startswith("No significant difference") and "spans 0" in story.verdict


def test_coverage_is_judged_at_10_and_the_interval_again_with_unjudged_removed():
    # The reranker puts an unjudged document first: counted as not relevant it loses (MRR 1 -> 0.5); removed, nothing
    # changes. judged@10 of the reranked list is 2/3 (d9 unjudged among three).
    lists = {f"q{n}": (["d1", "d2", "d9"], ["d9", "d1", "d2"]) for n in range(1, 4)}
    qrels = {q: {"d1": 2, "d2": 0} for q in lists}
    story = tell(*stage_sides(reranked_evaluation(lists, qrels)), "mrr@10")
    assert story.difference == pytest.approx(-0.5)
    caveat = story.coverage
    assert caveat.baseline_judged == pytest.approx(2 / 3) and caveat.candidate_judged == pytest.approx(2 / 3)
    assert caveat.difference_removed == pytest.approx(0.0) and caveat.ci_removed == pytest.approx((0.0, 0.0))
    assert caveat.is_low and "nobody judged" in story.coverage_warning
    # counted as not relevant the candidate is worse on every query; removed, nothing changes
    assert "headline's difference may come from the documents nobody judged" in story.coverage_warning


@pytest.mark.parametrize("counted, removed, said", [
    ((-0.02, 0.01), (0.001, 0.007), "without them the candidate is significantly better"),
    ((0.01, 0.05), (0.02, 0.04), "both ways of counting say the candidate is better"),
    ((-0.02, 0.01), (-0.01, 0.02), "neither way of counting shows a significant difference"),
    ((0.01, 0.05), (-0.05, -0.01), "disagree on the direction"),
])
def test_the_caveat_says_whether_both_ways_of_counting_agree(counted, removed, said):
    from explorer.evaluation.story import CoverageCaveat

    caveat = CoverageCaveat(10, 0.25, 0.25, sum(removed) / 2, removed)
    assert said in caveat.warning(counted)
    assert CoverageCaveat(10, 0.95, 0.92, 0.0, removed).warning(counted) == ""  # coverage is not low: nothing to say


def test_two_configurations_and_the_refusals():
    lists = {"q1": (["d1", "d2"], ["d2", "d1"])}
    qrels = {"q1": {"d1": 1}}
    evaluation = reranked_evaluation(lists, qrels)
    other = reranked_evaluation({"q2": (["d1"], ["d1"])}, {"q2": {"d1": 1}})
    with pytest.raises(ConfigError, match="share no scored query"):
        tell(StorySide(evaluation, "reranked", "a"), StorySide(other, "reranked", "b"))
    first_only = Evaluation("bm25", EvalConfig("test", rerank=False), "bi", None,
                            (QueryOutcome("q1", ("d1",), (1.0,), None, None, None, 1.0, 1.0, 0.0),), qrels, {"q1": "x"})
    with pytest.raises(ConfigError, match="no stage 'reranked'"):
        StorySide(first_only, "reranked", "bm25")
    with pytest.raises(ConfigError, match="without a reranker"):
        stage_sides(first_only)
    with pytest.raises(ConfigError, match="Unknown metric"):
        tell(*stage_sides(evaluation), "ndcg")
    assert metric_label("ndcg@10") == "nDCG@10" and metric_label("map") == "MAP"


def test_a_priced_remote_reranker_costs_per_1000_queries():
    lists = {"q1": (["d1", "d2"], ["d2", "d1"]), "q2": (["d1", "d2"], ["d1", "d2"])}
    evaluation = reranked_evaluation(lists, {"q1": {"d1": 1}, "q2": {"d1": 1}})
    asked = []

    def price(name: str, depth: int) -> tuple[float | None, str]:
        asked.append((name, depth))
        return 2.0, "$2 per 1,000 searches"

    story = tell(*stage_sides(evaluation), "mrr@10", price=price)
    assert asked == [("reranker", 4)]
    assert story.candidate_cost.usd_per_1000 == 2.0 and "$2 per 1,000" in story.candidate_cost.note
    assert story.baseline_cost.usd_per_1000 is None


def test_the_price_table_prices_remote_rerankers_only():
    from explorer.remote.prices import default_price_table, pricing

    price = pricing(default_price_table())
    usd, how = price("cohere:rerank-v3.5", 100)  # $2 per 1,000 searches of up to 100 documents
    assert usd == pytest.approx(2.0) and "per 1,000 searches" in how
    assert price("cross-encoder/ms-marco-MiniLM-L-6-v2", 100) == (None, "")


def test_the_report_explains_each_examples_top_result_as_escaped_text():
    from explorer.evaluation.story_report import example_explanations, story_report
    from explorer.grades import GradeScale

    lists = {f"q{n}": (["d2", "d1"], ["d1", "d2"]) for n in range(1, 4)}
    story = tell(*stage_sides(reranked_evaluation(lists, {q: {"d1": 2} for q in lists})), "mrr@10")

    def vpn_count(query, texts):
        return np.array([text.count("vpn") for text in texts], dtype=float)

    texts = {"d1": "The vpn <script>alert(1)</script> resets. Lunch is at noon.", "d2": "Nothing."}
    explained = example_explanations(story, vpn_count, texts.__getitem__)
    assert set(explained) == {e.query_id for e in story.examples} == {"q1", "q2", "q3"}
    text, occluded = explained["q1"]
    assert text == texts["d1"] and [e.drop for e in occluded.effects] == [1.0, 0.0]
    page = story_report(story, GradeScale(0, 2), explanations=explained)
    assert page.count("Why the candidate's top result scored") == 3
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

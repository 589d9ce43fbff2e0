"""Freshness, authority, numbers and diversity: each on a hand-built list, ordered as computed by hand."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from explorer.errors import ConfigError
from explorer.evaluation.runner import EvalConfig, Evaluation, QueryOutcome
from explorer.evaluation.signalled import search_weights, weight_grid, with_signals
from explorer.records import Dataset, Document, Query
from explorer.signals.config import (
    Authority, Diversity, Freshness, NumberSignal, SignalConfig, half_life_days, parse_signal, parse_signals,
)
from explorer.signals.diversity import cap_per_parent, mmr_order, redundancy
from explorer.signals.ranking import apply_signals, normalised

META = {
    "a": {"updated": "2025-06-01", "status": "archived", "views": "10"},
    "b": {"updated": "2025-05-02", "status": "current", "views": "1000"},
    "c": {"updated": "2025-04-02", "status": "draft", "views": "100"},
    "d": {"status": "unknown-value", "views": "not a number"},
}


def meta(doc_id: str) -> dict[str, str]:
    return META.get(doc_id, {})


def test_relevance_alone_keeps_the_order_and_is_normalised_min_max():
    ranking = apply_signals(["a", "b", "c"], [4.0, 2.0, 0.0], meta, SignalConfig())
    assert ranking.order == ["a", "b", "c"]
    assert [h.relevance for h in ranking.hits] == [1.0, 0.5, 0.0]
    assert normalised(None, 3) == [1.0, 0.5, 0.0]  # by rank, for a cascade's mixed scales
    assert normalised([2.0, 2.0], 2) == [1.0, 1.0]


def test_freshness_halves_per_half_life_and_reorders_as_computed_by_hand():
    # now 2025-06-01, half-life 30 days: a is 0 days old (1.0), b 30 days (0.5), c 60 days (0.25), d has no date (0)
    config = SignalConfig((Freshness("updated", 30, 0.5, date(2025, 6, 1)),))
    ranking = apply_signals(["c", "b", "a", "d"], [3.0, 2.0, 1.0, 0.0], meta, config)
    by_id = {h.doc_id: h for h in ranking.hits}
    assert by_id["a"].values["freshness (updated)"] == pytest.approx(1.0)
    assert by_id["b"].values["freshness (updated)"] == pytest.approx(0.5)
    assert by_id["c"].values["freshness (updated)"] == pytest.approx(0.25)
    assert by_id["d"].values["freshness (updated)"] is None
    # totals: 0.5 x relevance (1, 2/3, 1/3, 0) + 0.5 x freshness
    expected = {"c": 0.5 * 1 + 0.5 * 0.25, "b": 0.5 * 2 / 3 + 0.5 * 0.5, "a": 0.5 / 3 + 0.5 * 1.0, "d": 0.0}
    for doc_id, total in expected.items():
        assert by_id[doc_id].total == pytest.approx(total)
        assert sum(by_id[doc_id].contributions.values()) == pytest.approx(total)
    assert ranking.order == ["a", "c", "b", "d"]  # 0.667, 0.625, 0.583, 0
    assert by_id["a"].moved == 2 and by_id["c"].moved == -1
    assert ranking.missing == {"freshness (updated)": 1}


def test_a_date_after_now_counts_as_new():
    config = SignalConfig((Freshness("updated", 10, 0.2, date(2025, 1, 1)),))
    ranking = apply_signals(["a"], [1.0], meta, config)
    assert ranking.hits[0].values["freshness (updated)"] == 1.0


def test_authority_weighs_each_value_and_other_for_the_rest():
    config = SignalConfig((Authority("status", 0.4, (("current", 1.0), ("draft", 0.25), ("archived", 0.0)), 0.5),))
    ranking = apply_signals(["a", "c", "b", "d"], [3.0, 2.0, 1.0, 0.0], meta, config)
    totals = {h.doc_id: h.total for h in ranking.hits}
    # 0.6 x relevance (1, 2/3, 1/3, 0) + 0.4 x (0, 0.25, 1, other 0.5)
    assert totals == pytest.approx({"a": 0.6, "c": 0.4 + 0.1, "b": 0.2 + 0.4, "d": 0.2})
    assert ranking.order == ["a", "b", "c", "d"]  # a and b tie at 0.6: relevance's order decides


def test_a_number_is_scaled_over_its_range_or_its_log():
    plain = NumberSignal("views", 1.0, low=10, high=1000)
    assert plain.scaled(10) == 0 and plain.scaled(1000) == 1 and plain.scaled(505) == pytest.approx(0.5)
    logged = NumberSignal("views", 1.0, log=True, low=0, high=999)
    assert logged.scaled(math.sqrt(1000) - 1) == pytest.approx(0.5)
    resolved = SignalConfig((NumberSignal("views", 0.5),)).resolved(
        [Document(k, "", "", v) for k, v in META.items()])
    assert (resolved.signals[0].low, resolved.signals[0].high) == (10, 1000)
    ranking = apply_signals(["a", "c", "b", "d"], [3.0, 2.0, 1.0, 0.0], meta, resolved)
    # 0.5 x relevance (1, 2/3, 1/3, 0) + 0.5 x views (0, 90/990, 1, none)
    totals = {h.doc_id: h.total for h in ranking.hits}
    assert totals == pytest.approx({"a": 0.5, "c": 1 / 3 + 0.5 * 90 / 990, "b": 1 / 6 + 0.5, "d": 0.0})
    assert ranking.order == ["b", "a", "c", "d"]


def test_resolving_freshness_takes_the_newest_date_as_now():
    docs = [Document(k, "", "", v) for k, v in META.items()]
    assert SignalConfig((Freshness("updated", 30, 0.1),)).resolved(docs).signals[0].now == date(2025, 6, 1)


def test_mmr_picks_the_best_then_trades_score_for_novelty():
    # b is a near copy of a; c points elsewhere. Scores 1.0, 0.9, 0.6; lambda 0.5:
    # first a; then b: 0.5*0.9 - 0.5*cos(a,b)=0.45-0.5*0.995 < c: 0.3 - 0.5*0 -> c; then b
    vectors = np.array([[1.0, 0.0], [0.995, math.sqrt(1 - 0.995 ** 2)], [0.0, 1.0]])
    assert mmr_order([1.0, 0.9, 0.6], vectors, 0.5) == [0, 2, 1]
    assert mmr_order([1.0, 0.9, 0.6], vectors, 1.0) == [0, 1, 2]  # lambda 1: scores alone
    assert mmr_order([1.0, 0.9, 0.6], vectors, 0.5, limit=2) == [0, 2]
    ranking = apply_signals(["a", "b", "c"], [1.0, 0.9, 0.6], meta,
                            SignalConfig(diversity=Diversity("mmr", lambda_=0.5)), vectors)
    assert ranking.order == ["a", "c", "b"]
    assert [h.moved_by_diversity for h in ranking.hits] == [0, 1, -1]
    with pytest.raises(ConfigError, match="vector"):
        apply_signals(["a"], [1.0], meta, SignalConfig(diversity=Diversity("mmr", lambda_=0.5)))


def test_a_cap_per_parent_moves_the_extra_ones_below_in_order():
    assert cap_per_parent(["p", "p", "q", "p", None, None, "q"], 2) == [0, 1, 2, 4, 5, 6, 3]
    pages = {"x1": {"page": "x"}, "x2": {"page": "x"}, "y1": {"page": "y"}, "x3": {"page": "x"}}
    ranking = apply_signals(["x1", "x2", "x3", "y1"], [4.0, 3.0, 2.0, 1.0], pages.get,
                            SignalConfig(diversity=Diversity("per-parent", field="page", limit=1)))
    assert ranking.order == ["x1", "y1", "x2", "x3"]


def test_redundancy_of_a_list():
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    found = redundancy(vectors, ["p", "p", "q"])
    assert found.mean_pairwise_cosine == pytest.approx((1 + 0 + 0) / 3) and found.distinct_parents == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("freshness:updated:30d:0.15", Freshness("updated", 30, 0.15)),
    ("freshness:updated:2w:0.1:now=2025-06-30", Freshness("updated", 14, 0.1, date(2025, 6, 30))),
    ("authority:status:0.2:current=1,draft=0.3", Authority("status", 0.2, (("current", 1.0), ("draft", 0.3)))),
    ("authority:status:0.2:current=1:other=0.5", Authority("status", 0.2, (("current", 1.0),), 0.5)),
    ("number:views:0.1:log", NumberSignal("views", 0.1, log=True)),
    ("mmr:0.7", Diversity("mmr", lambda_=0.7)),
    ("per-parent:page:2", Diversity("per-parent", field="page", limit=2)),
])
def test_the_command_line_forms(text, expected):
    assert parse_signal(text) == expected


@pytest.mark.parametrize(("texts", "message"), [
    (["freshness:updated:soon:0.1"], "half-life"),
    (["freshness:updated:0d:0.1"], "more than 0 days"),
    (["authority:status:0.2:current=2"], "from 0 to 1"),
    (["number:views:0.6", "freshness:updated:30d:0.6"], "add up to 1.20"),
    (["mmr:1.5"], "lambda"),
    (["mmr:0.5", "per-parent:page:2"], "one diversity"),
    (["number:views:0.1", "number:views:0.2"], "twice"),
    (["popularity:views:0.1"], "not one of the forms"),
])
def test_mistakes_are_refused_with_what_to_do(texts, message):
    with pytest.raises(ConfigError, match=message):
        parse_signals(texts)


def test_the_json_form_round_trips_and_half_lives_read_units():
    config = parse_signals(["freshness:updated:30d:0.15:now=2025-06-30", "authority:status:0.2:current=1",
                            "number:views:0.1:log", "mmr:0.7"])
    assert SignalConfig.from_json(config.to_json()) == config
    assert config.relevance_weight == pytest.approx(0.55)
    assert half_life_days("1y") == 365 and half_life_days("3 weeks") == 21
    with pytest.raises(ConfigError):
        SignalConfig.from_json({"signals": [{"kind": "freshness", "field": "u"}]})


def _evaluation(split: str, lists: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Evaluation:
    outcomes = tuple(QueryOutcome(q, tuple(docs), tuple(float(len(docs) - i) for i in range(len(docs))),
                                  tuple(docs), tuple(float(len(docs) - i) for i in range(len(docs))), None,
                                  0.0, 0.0, 0.0) for q, docs in lists.items())
    return Evaluation("dense → r", EvalConfig(split=split), "bi", "r", outcomes, qrels, {q: q for q in lists})


def _dataset(lists: dict[str, list[str]]) -> Dataset:
    """Documents whose id says whether they are new: n* updated 2025-06-01, o* 2020-01-01."""
    ids = sorted({d for docs in lists.values() for d in docs})
    docs = tuple(Document(d, "", d, {"updated": "2025-06-01" if d.startswith("n") else "2020-01-01"}) for d in ids)
    return Dataset("t", docs, {q: Query(q, q) for q in lists})


def test_signals_on_an_evaluation_and_a_weight_search_tuned_on_one_split_measured_on_another():
    # relevance puts an old document first; the relevant one is the new one second. Freshness fixes it.
    train = {"q1": ["o1", "n1", "o2"], "q2": ["o3", "n2", "o4"]}
    test = {"q3": ["o5", "n3", "o6"]}
    qrels_train = {"q1": {"n1": 1}, "q2": {"n2": 1}}
    qrels_test = {"q3": {"n3": 1}}
    dataset = _dataset({**train, **test})
    config = SignalConfig((Freshness("updated", 30, 0.1),))
    tune, measure = _evaluation("train", train, qrels_train), _evaluation("test", test, qrels_test)
    reordered = with_signals(measure, dataset, replace_weight(config, 0.5))
    # relevance (1, 0.5, 0) x 0.5 + freshness (0, 1, 0) x 0.5: o5 0.5, n3 0.75, o6 0
    assert reordered.ranked("reranked") == {"q3": ["n3", "o5", "o6"]}
    assert "signals (relevance 0.50, freshness (updated) 0.50)" in reordered.name
    found = search_weights(tune, measure, dataset, config, "ndcg@10", grid=(0.0, 0.1, 0.3, 0.5))
    # weight 0.1 or less keeps o first (0.9 > 0.45 + 0.1); 0.3: 0.7 < 0.35 + 0.3? no; 0.5: 0.5 < 0.75: yes
    assert found.best.signals[0].weight == 0.5
    assert found.relevance_only == pytest.approx({"train": 1 / math.log2(3), "test": 1 / math.log2(3)})
    assert found.with_signals == pytest.approx({"train": 1.0, "test": 1.0})
    assert found.carried_over and "carried" not in found.summary()
    assert [t.weights for t in found.trials][0] == (0.5,)
    assert len(weight_grid(3)) == sum(1 for a in (0, .05, .1, .2, .3, .5) for b in (0, .05, .1, .2, .3, .5)
                                      for c in (0, .05, .1, .2, .3, .5) if a + b + c <= 0.9 + 1e-9)
    with pytest.raises(ConfigError, match="another"):
        search_weights(tune, tune, dataset, config)


def replace_weight(config: SignalConfig, weight: float) -> SignalConfig:
    return config.with_weights([weight])


def test_a_weight_search_that_finds_nothing_better_says_so():
    # relevance already puts the relevant new document first; freshness can only tie or hurt
    train = {"q1": ["n1", "o1"]}
    test = {"q2": ["o2", "n2"]}
    dataset = _dataset({**train, **test})
    found = search_weights(_evaluation("train", train, {"q1": {"n1": 1}}),
                           _evaluation("test", test, {"q2": {"o2": 1}}), dataset,
                           SignalConfig((Freshness("updated", 30, 0.1),)), grid=(0.0, 0.5))
    assert found.best.signals[0].weight == 0.0  # a tie goes to the smaller weight
    assert "Nothing on the grid beat relevance alone on train" in found.summary()
    assert found.relevance_only["test"] == found.with_signals["test"] == 1.0


def test_compact_dates_make_a_date_field_and_plain_numbers_a_number_field():
    from explorer.signals.fields import summarise_field

    dated = [Document("a", "", "", {"d": "20240716"}), Document("b", "", "", {"d": "20230101"})]
    counted = [Document("a", "", "", {"d": "2024"}), Document("b", "", "", {"d": "3"})]
    assert summarise_field(dated, "d").kind == "date"
    assert summarise_field(counted, "d").kind == "number"

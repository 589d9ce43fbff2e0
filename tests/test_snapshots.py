"""Snapshots: saved evaluations read back whole, compared with per-query changes worked out by hand."""

from __future__ import annotations

import pytest

from explorer.errors import ConfigError
from explorer.evaluation.runner import EvalConfig, Evaluation, QueryOutcome
from explorer.evaluation.snapshots import SnapshotStore, diff


def evaluation(name: str, lists: dict[str, list[str]]) -> Evaluation:
    outcomes = tuple(QueryOutcome(q, tuple(docs), tuple(1.0 / (i + 1) for i in range(len(docs))), None, None, None,
                                  1.0, 0.5, 0.0) for q, docs in lists.items())
    qrels = {"q1": {"d1": 1}, "q2": {"d3": 1}}
    return Evaluation(name, EvalConfig("test", rerank=False), "bi", None, outcomes, qrels,
                      {"q1": "first query", "q2": "second query"})


def test_two_snapshots_give_the_hand_computed_per_query_changes(tmp_path):
    store = SnapshotStore(tmp_path / "snapshots.sqlite")
    # q1: the answer at rank 2, then 1 (MRR 0.5 -> 1.0); q2: rank 1, then 3 (1.0 -> 1/3)
    store.save("before", "kb", evaluation("a", {"q1": ["d2", "d1"], "q2": ["d3"]}), "qrels + judgements v0")
    store.save("after", "kb", evaluation("b", {"q1": ["d1", "d2"], "q2": ["d4", "d5", "d3"]}), "qrels + judgements v3")
    assert store.names("kb") == ["after", "before"] and store.names("other") == []
    result = diff([store.get("before"), store.get("after")], ["mrr@10"], "mrr@10")
    assert result.per_query["after"] == pytest.approx({"q1": 0.5, "q2": 1 / 3 - 1.0})
    assert result.metrics["mrr@10"] == pytest.approx({"before": 0.75, "after": (1.0 + 1 / 3) / 2})
    assert store.get("after").label_version == "qrels + judgements v3"


def test_a_snapshot_reads_back_whole_and_keeps_its_own_labels(tmp_path):
    store = SnapshotStore(tmp_path / "snapshots.sqlite")
    saved = evaluation("a", {"q1": ["d2", "d1"], "q2": ["d3"]})
    store.save("before", "kb", saved, "v0")
    again = SnapshotStore(tmp_path / "snapshots.sqlite").get("before").evaluation
    assert again.outcomes == saved.outcomes and again.qrels == saved.qrels and again.config == saved.config
    assert again.metrics(["mrr@10"]) == saved.metrics(["mrr@10"])


def test_names_are_unique_and_an_unknown_one_lists_the_known(tmp_path):
    store = SnapshotStore(tmp_path / "snapshots.sqlite")
    store.save("before", "kb", evaluation("a", {"q1": ["d1"]}), "v0")
    with pytest.raises(ConfigError, match="exists"):
        store.save("before", "kb", evaluation("a", {"q1": ["d1"]}), "v1")
    store.save("before", "kb", evaluation("a", {"q1": ["d2"]}), "v1", replace=True)
    assert store.get("before").label_version == "v1"
    with pytest.raises(ConfigError, match="Saved snapshots: before"):
        store.get("nope")
    with pytest.raises(ConfigError, match="name"):
        store.save("  ", "kb", evaluation("a", {"q1": ["d1"]}), "v0")
    with pytest.raises(ConfigError, match="at least two"):
        diff([store.get("before")], ["mrr@10"], "mrr@10")


def test_unjudged_documents_removed_give_the_hand_computed_condensed_metrics(tmp_path):
    # q1: d9 (unjudged) then d1 (relevant): MRR 0.5 counting d9 as not relevant, 1.0 with it removed
    # q2: d4, d5 (unjudged) then d3: MRR 1/3, or 1.0 condensed
    counted = evaluation("a", {"q1": ["d9", "d1"], "q2": ["d4", "d5", "d3"]})
    removed = counted.counting("removed")
    assert counted.metrics(["mrr@10"])["first_stage"]["mrr@10"] == pytest.approx((0.5 + 1 / 3) / 2)
    assert removed.metrics(["mrr@10"])["first_stage"]["mrr@10"] == pytest.approx(1.0)
    assert removed.ranked("first_stage")["q2"] == ["d4", "d5", "d3"]  # the retrieved list itself is kept
    assert removed.scored("first_stage")["q2"] == ["d3"]
    assert counted.counting("not relevant") is counted
    with pytest.raises(ConfigError, match="not relevant, removed"):
        counted.counting("ignored")  # type: ignore[arg-type]
    # a snapshot keeps how it counted, and reads the same
    store = SnapshotStore(tmp_path / "snapshots.sqlite")
    store.save("condensed", "kb", removed, "v0")
    again = store.get("condensed").evaluation
    assert again.unjudged == "removed" and again.metrics(["mrr@10"]) == removed.metrics(["mrr@10"])
    store.remove("condensed")
    assert store.names() == []


def test_a_threshold_sweep_over_condensed_lists_keeps_only_judged_results():
    from explorer.evaluation.thresholds import scored_results

    outcome = QueryOutcome("q1", ("d9", "d1", "d2"), (0.3, 0.2, 0.1), ("d9", "d1", "d2"), (3.0, 2.0, 1.0), None,
                           1.0, 0.5, 2.0)
    evaluation = Evaluation("x", EvalConfig("test"), "bi", "r", (outcome,), {"q1": {"d1": 1, "d2": 0}},
                            {"q1": "first query"})
    _, counted = scored_results(evaluation, top_n=2)
    _, removed = scored_results(evaluation.counting("removed"), top_n=2)
    assert [(r.doc_id, r.relevant) for r in counted] == [("d9", False), ("d1", True)]
    assert [(r.doc_id, r.relevant) for r in removed] == [("d1", True), ("d2", False)]


def reranked(blend: float, depth: int = 10) -> Evaluation:
    """One query reranked by "rr", with the blend and depth given."""
    outcome = QueryOutcome("q1", ("d2", "d1"), (0.9, 0.8), ("d1", "d2"), (2.0, 1.0), None, 1.0, 0.5, 20.0)
    return Evaluation("dense → rr", EvalConfig("test", depth=depth, blend=blend), "bi", "rr", (outcome,),
                      {"q1": {"d1": 1}}, {"q1": "first query"})


def test_snapshots_that_differ_only_in_their_blend_never_read_the_same():
    from explorer.evaluation.snapshots import configuration_texts

    texts = configuration_texts([reranked(0.5), reranked(1.0)])
    assert texts == ["dense → rr · blend 0.5 (reranker weight)", "dense → rr · reranker alone"]
    # each other setting that differs is said too; settings the snapshots share are not repeated
    assert configuration_texts([reranked(0.5, depth=10), reranked(0.5, depth=50)]) == [
        "dense → rr · depth 10", "dense → rr · depth 50"]
    assert configuration_texts([reranked(0.5), reranked(0.5)]) == ["dense → rr", "dense → rr"]


def test_one_snapshot_on_its_own_is_described_with_every_setting():
    from explorer.evaluation.snapshots import configuration_texts

    assert configuration_texts([reranked(0.5)], every_setting=True) == [
        "dense → rr · blend 0.5 (reranker weight) · depth 10 · bi-encoder bi · split 'test' · unjudged not relevant"]
    first_stage_only = evaluation("a", {"q1": ["d1"]})  # no reranker: no blend to speak of
    assert configuration_texts([first_stage_only], every_setting=True) == [
        "dense only · depth 100 · bi-encoder bi · split 'test' · unjudged not relevant"]

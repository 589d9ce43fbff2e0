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

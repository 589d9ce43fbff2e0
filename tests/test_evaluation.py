"""Evaluating both stages on labelled queries: the real packaged models on the sample data."""

import pytest

from explorer.errors import ConfigError
from explorer.evaluation.depth_sweep import depth_sweep
from explorer.evaluation.metrics import mean_metrics
from explorer.evaluation.runner import EvalConfig, evaluate, rerank_at_depth

DEPTH = 20


@pytest.fixture(scope="module")
def pipeline(sample_pipeline, small_split):
    from explorer.pipeline import RetrievalPipeline

    p = sample_pipeline
    return RetrievalPipeline(small_split, p.bi_encoder, p.reranker, p.index, p.index_report)


@pytest.fixture(scope="module")
def evaluated(pipeline, tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluations")
    return evaluate(pipeline, EvalConfig("few", depth=DEPTH), cache_folder=folder), folder


def test_every_query_has_both_lists_and_timings(evaluated, small_split):
    evaluation, _ = evaluated
    assert [o.query_id for o in evaluation.outcomes] == list(small_split.qrels_by_split["few"])
    for outcome in evaluation.outcomes:
        assert len(outcome.first_stage) == DEPTH
        assert sorted(outcome.reranked) == sorted(outcome.first_stage)
        assert list(outcome.reranker_scores) == sorted(outcome.reranker_scores, reverse=True)
        assert outcome.query_encoding_ms > 0 and outcome.rerank_ms > 0
    metrics = evaluation.metrics(["ndcg@10", "recall@20"])
    assert set(metrics) == {"first_stage", "reranked"}
    direct = mean_metrics(evaluation.qrels, evaluation.ranked("first_stage"), ["ndcg@10"])["ndcg@10"]
    assert metrics["first_stage"]["ndcg@10"] == pytest.approx(direct)
    assert set(evaluation.latency_ms()) == {"query_encoding", "first_stage", "rerank"}


def test_a_repeated_evaluation_comes_from_the_cache(evaluated, pipeline):
    evaluation, folder = evaluated
    # should_stop is asked only before computing a query: a full cache never asks
    again = evaluate(pipeline, EvalConfig("few", depth=DEPTH), cache_folder=folder, should_stop=lambda: True)
    assert again.outcomes == evaluation.outcomes


def test_an_interrupted_run_keeps_what_it_did_and_resumes(pipeline, tmp_path):
    config = EvalConfig("few", depth=5, rerank=False)
    asked = []

    def stop_after_three() -> bool:
        asked.append(1)
        return len(asked) > 3

    partial = evaluate(pipeline, config, cache_folder=tmp_path, should_stop=stop_after_three)
    assert len(partial.outcomes) == 3
    (cache_file,) = tmp_path.glob("*.jsonl")
    with cache_file.open("a") as handle:
        handle.write('{"query_id": "torn')  # a run killed in the middle of a line
    resumed = evaluate(pipeline, config, cache_folder=tmp_path)
    assert len(resumed.outcomes) == 8
    assert resumed.outcomes[:3] == partial.outcomes
    assert not resumed.has_reranker
    with pytest.raises(ConfigError, match="without a reranker"):
        resumed.ranked("reranked")


def test_depth_sweep_reuses_the_scores_and_times_each_depth(evaluated, pipeline):
    evaluation, _ = evaluated
    assert [rerank_at_depth(o, DEPTH) for o in evaluation.outcomes] == [list(o.reranked) for o in evaluation.outcomes]
    points = depth_sweep(pipeline, evaluation, depths=(5, 10, DEPTH, 500), timed_queries=1)
    assert [p.depth for p in points] == [5, 10, DEPTH]  # 500 is deeper than what was evaluated
    assert points[-1].reranked == pytest.approx(evaluation.metrics(["ndcg@10"])["reranked"]["ndcg@10"])
    assert all(p.rerank_ms > 0 and p.timed_queries == 1 for p in points)
    # at depth 5 the first stage's top 10 holds only 5 documents
    assert points[0].first_stage <= points[1].first_stage


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "nope"}, "No labelled split 'nope'"),
    ({"split": "few", "first_stage_method": "sparse"}, "Unknown first stage"),
    ({"split": "few", "depth": 0}, "between 1 and"),
    ({"split": "few", "blend": 2.0}, "between 0 and 1"),
])
def test_bad_configurations_say_what_to_do(pipeline, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        evaluate(pipeline, EvalConfig(**kwargs))


def test_reranking_without_a_reranker_is_refused(pipeline):
    with pytest.raises(ConfigError, match="no reranker is loaded"):
        evaluate(pipeline.with_reranker(None), EvalConfig("few"))


def test_another_blend_reuses_the_scores_and_orders_as_a_blended_search(evaluated, pipeline, monkeypatch):
    """Only the blend changed: no pair is scored again, and every query is ordered as the pipeline orders it."""
    _, folder = evaluated
    model = pipeline.reranker.model
    scored: list[int] = []
    real = model.preprocess
    monkeypatch.setattr(model, "preprocess", lambda inputs, *a, **k: scored.append(len(inputs)) or real(inputs, *a, **k))
    blended = evaluate(pipeline, EvalConfig("few", depth=DEPTH, blend=0.5), cache_folder=folder,
                       should_stop=lambda: True)  # a query that had to run would stop the evaluation
    assert len(blended.outcomes) == 8 and scored == []
    for outcome in blended.outcomes[:3]:
        text = pipeline.dataset.queries[outcome.query_id].text
        search = pipeline.uncached().search(text, depth=DEPTH, blend=0.5)
        assert outcome.reranked == tuple(hit.doc_id for hit in search.reranked)
        assert outcome.reranker_scores == pytest.approx([hit.score for hit in search.reranked], abs=1e-6)


def hand_evaluation():
    """q1: first stage a, b, x (x unjudged), reranked x, a, b; q2: first stage c, y, reranked y, z (only c judged)."""
    from explorer.evaluation.runner import Evaluation, QueryOutcome

    outcomes = (QueryOutcome("q1", ("a", "b", "x"), (3.0, 2.0, 1.0), ("x", "a", "b"), (9.0, 8.0, 7.0), None, 1, 1, 5),
                QueryOutcome("q2", ("c", "y"), (2.0, 1.0), ("y", "z"), (5.0, 4.0), None, 1, 1, 5))
    return Evaluation("hand", EvalConfig("test"), "bi", "rr", outcomes, {"q1": {"a": 2, "b": 0}, "q2": {"c": 1}},
                      {"q1": "one", "q2": "two"})


def test_judged_at_10_of_each_stage_is_in_the_summary_and_the_metrics_table():
    from explorer.evaluation.tables import judged_at, metrics_table, summary_json
    from explorer.judging.coverage import coverage

    evaluation = hand_evaluation()
    # first stage: q1 2 of 3 judged, q2 1 of 2: mean (2/3 + 1/2) / 2 = 0.5833; reranked: q1 2 of 3, q2 0 of 2: 0.3333
    assert judged_at(evaluation) == pytest.approx({"first_stage": 7 / 12, "reranked": 1 / 3})
    # the pages' own figure (ui/coverage_note.py shows coverage(...).mean)
    assert judged_at(evaluation)["reranked"] == coverage("reranked", evaluation.ranked("reranked"),
                                                         evaluation.qrels, 10).mean
    summary = summary_json(evaluation)
    assert summary["judged@10"] == {"first_stage": 0.5833, "reranked": 0.3333}
    table = metrics_table([evaluation], ["mrr@10"])
    assert list(table["judged@10"]) == [0.5833, 0.3333]


def test_a_subset_of_an_evaluation_keeps_only_its_queries_under_a_new_split_name():
    evaluation = hand_evaluation()
    part = evaluation.subset(["q2"], "test, measuring half")
    assert [o.query_id for o in part.outcomes] == ["q2"] and set(part.qrels) == set(part.query_texts) == {"q2"}
    assert part.config.split == "test, measuring half" and evaluation.config.split == "test"
    with pytest.raises(ConfigError, match="not in this evaluation"):
        evaluation.subset(["q9"], "none")


def test_evaluations_share_the_score_cache_and_say_which_times_are_the_models(pipeline, tmp_path):
    """A second configuration scores only the pairs the first did not (the candidates both first stages found are
    answered by the score cache), and the reranking time is read only from queries the model scored itself."""
    from explorer.rerank.score_cache import ScoreCache

    scores = ScoreCache()
    cached = pipeline.with_score_cache(scores)
    dense = evaluate(cached, EvalConfig("few", depth=DEPTH), cache_folder=tmp_path)
    assert all(o.rerank_from_cache == 0 and o.rerank_pairs == DEPTH for o in dense.outcomes)
    assert dense.rerank_timing_note == "" and len(dense.fresh_reranks()) == len(dense.outcomes)
    scored_before = scores.stats().misses
    bm25 = evaluate(cached, EvalConfig("few", first_stage_method="bm25", depth=DEPTH), cache_folder=tmp_path)
    shared = [len(set(a.first_stage) & set(b.first_stage)) for a, b in zip(dense.outcomes, bm25.outcomes)]
    assert [o.rerank_from_cache for o in bm25.outcomes] == shared and sum(shared) > 0
    assert scores.stats().misses - scored_before == len(bm25.outcomes) * DEPTH - sum(shared)
    fresh = bm25.fresh_reranks()
    assert {o.query_id for o in fresh} == {o.query_id for o, n in zip(bm25.outcomes, shared) if n == 0}
    if len(fresh) < len(bm25.outcomes):
        assert "score cache" in bm25.rerank_timing_note
    shallower = evaluate(cached, EvalConfig("few", depth=DEPTH // 2), cache_folder=tmp_path)
    assert all(o.rerank_from_cache == DEPTH // 2 for o in shallower.outcomes)
    assert "Every query's pairs were scored before" in shallower.rerank_timing_note

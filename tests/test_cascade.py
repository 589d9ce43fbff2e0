"""Cascade reranking: which candidates the main reranker reads, the order that comes out, and a real cascade
through the pipeline on the sample data (the packaged MiniLM read as a cross-encoder as the small reranker)."""

from __future__ import annotations

import pytest

from explorer.errors import ConfigError
from explorer.rerank.cascade import CascadeSpec, cascade_order, kept_positions, small_ranking


def test_the_main_reranker_reads_the_small_ones_best_in_candidate_order():
    first_stage = [0.9, 0.8, 0.7, 0.6, 0.5]
    assert kept_positions(small_ranking([0.1, 0.9, 0.5, 0.9, -1.0], first_stage), 3) == [1, 2, 3]
    assert kept_positions(small_ranking([0.2, 0.2, 0.2], first_stage[:3]), 2) == [0, 1]  # ties: the first stage's
    assert kept_positions(small_ranking([0.3, 0.1], first_stage[:2]), 5) == [0, 1]  # fewer than keep: all


def test_the_small_reranker_ranks_by_the_rerankers_blend_rule():
    first_stage = [3.0, 2.0, 1.0]
    small = [0.0, 0.1, 0.2]  # alone: the reverse of the first stage
    assert small_ranking(small, first_stage, 1.0) == [2, 1, 0]
    # z-scores: first stage (1.22, 0, -1.22), small (-1.22, 0, 1.22); at weight 0.25 the first stage leads
    assert small_ranking(small, first_stage, 0.25) == [0, 1, 2]


def test_the_top_is_the_main_rerankers_order_and_the_rest_the_small_ones():
    ranking = small_ranking([0.1, 0.9, 0.5, 0.8, -1.0, 0.7], [0.0] * 6)  # [1, 3, 5, 2, 0, 4]
    read = kept_positions(ranking, 3)  # [1, 3, 5]
    # the main reranker puts position 5 first, then 1, then 3
    assert cascade_order(ranking, read, [2, 0, 1]) == [5, 1, 3, 2, 0, 4]


@pytest.mark.parametrize(("text", "small", "keep"), [("trained/small:20", "trained/small", 20),
                                                     ("/models/a:b/small:5", "/models/a:b/small", 5)])
def test_the_command_lines_cascade_names_a_model_and_a_count(text, small, keep):
    assert CascadeSpec.parse(text) == CascadeSpec(small, keep)


@pytest.mark.parametrize(("text", "message"), [("small", "SMALL:M"), (":20", "SMALL:M"), ("small:many", "whole"),
                                               ("small:0", "at least 1")])
def test_a_wrong_cascade_says_what_to_write(text, message):
    with pytest.raises(ConfigError, match=message):
        CascadeSpec.parse(text)


def test_a_cascade_through_the_pipeline_reads_keep_pairs_with_the_main_reranker(sample_pipeline, sample):
    from explorer.models.info import LoadedModel, ModelInfo
    from explorer.models.packaged import build_packaged_reranker
    from explorer.inference.engine import InferenceEngine
    from explorer.inference.device import DeviceChoice
    from explorer.rerank.scoring import score_pairs

    cpu = DeviceChoice("cpu", "fp32", "test")
    model = build_packaged_reranker(cpu)
    small = LoadedModel(model, ModelInfo("packaged", "packaged MiniLM-L6 cross-encoder", "packaged", ""), cpu,
                        engine=InferenceEngine(model, cpu))
    pipeline = sample_pipeline.uncached()
    query = next(iter(sample.labelled_queries("test"))).text
    result = pipeline.with_cascade(small, keep=7).search(query, depth=30)
    report = result.cascade
    assert (report.pairs_small, report.pairs_main, report.keep) == (30, 7, 7)
    assert report.small_ms > 0 and report.main_ms > 0
    hits = result.reranked
    assert [h.rank for h in hits] == list(range(1, 31))
    assert [h.scored_by for h in hits] == ["main"] * 7 + ["small"] * 23
    assert sorted(h.doc_id for h in hits) == sorted(h.doc_id for h in result.first_stage)
    # the top 7 are the small reranker's best 7, in the main reranker's order, with the main reranker's scores
    texts = [pipeline.candidate_text(h) for h in result.first_stage]
    small_raw = score_pairs(small, query, texts).raw
    best_small = {result.first_stage[p].doc_id
                  for p in kept_positions(small_ranking(small_raw, [h.score for h in result.first_stage]), 7)}
    assert {h.doc_id for h in hits[:7]} == best_small
    main = score_pairs(pipeline.reranker, query, [pipeline.candidate_text(h) for h in result.first_stage
                                                  if h.doc_id in best_small]).raw
    assert sorted((h.score for h in hits[:7]), reverse=True) == pytest.approx(sorted(main, reverse=True), abs=1e-4)
    assert [h.score for h in hits[:7]] == sorted((h.score for h in hits[:7]), reverse=True)
    # below: the small reranker's order, on its scores
    below = [h.small_score for h in hits[7:]]
    assert below == sorted(below, reverse=True) and all(h.score == h.small_score for h in hits[7:])
    without = pipeline.search(query, depth=30)
    assert without.cascade is None and {h.scored_by for h in without.reranked} == {"main"}


def test_the_cascade_benchmark_ranks_as_the_pipelines_cascade_does(sample_pipeline, small_split):
    """The benchmark reuses the small reranker's scores across M, and still orders each query as a cascade search
    through the pipeline does (the same cascade_hits)."""
    from explorer.bench.cascade import bench_cascade
    from explorer.evaluation.metrics import mean_metrics
    from explorer.inference.device import DeviceChoice
    from explorer.inference.engine import InferenceEngine
    from explorer.models.info import LoadedModel, ModelInfo
    from explorer.models.packaged import build_packaged_reranker
    from explorer.pipeline import RetrievalPipeline

    cpu = DeviceChoice("cpu", "fp32", "test")
    model = build_packaged_reranker(cpu)
    small = LoadedModel(model, ModelInfo("packaged", "packaged MiniLM-L6 cross-encoder", "packaged", ""), cpu,
                        engine=InferenceEngine(model, cpu))
    p = sample_pipeline
    pipeline = RetrievalPipeline(small_split, p.bi_encoder, p.reranker, p.index, p.index_report)
    measured = bench_cascade(pipeline, p.reranker, small, "few", depth=20, keeps=(5,), blend=0.5)
    (point,) = measured.points
    assert (point.keep, point.pairs_read_by_main, measured.pairs_full) == (5, 5 * 8, 20 * 8)
    cascade = pipeline.with_cascade(small, 5)
    ranked = {q.query_id: [h.doc_id for h in cascade.search(q.text, depth=20, blend=0.5).reranked]
              for q in small_split.labelled_queries("few")}
    qrels = {q: dict(v) for q, v in small_split.qrels_by_split["few"].items()}
    assert point.ndcg == pytest.approx(mean_metrics(qrels, ranked, ["ndcg@10"])["ndcg@10"], abs=1e-3)
    assert measured.to_json()["keep"] == 5 and measured.to_json()["pairs_read_by_main"] == 40
    # the reference without a small reranker: the reranker on the first stage's top 5, the other 15 as they came
    (alone,) = measured.first_stage_points
    assert (alone.keep, alone.pairs_read_by_main) == (5, 5 * 8)
    top_five = {}
    for query in small_split.labelled_queries("few"):
        first = [h.doc_id for h in pipeline.search(query.text, depth=20, rerank=False).first_stage]
        top = [h.doc_id for h in pipeline.search(query.text, depth=5, blend=0.5).reranked]
        assert sorted(top) == sorted(first[:5])
        top_five[query.query_id] = top + first[5:]
    assert alone.ndcg == pytest.approx(mean_metrics(qrels, top_five, ["ndcg@10"])["ndcg@10"], abs=1e-3)
    assert measured.to_json()["first_stage_top_m"]["points"][0]["pairs_read_by_main"] == 40


def test_the_evaluate_pages_sweep_of_m_gives_what_a_cascade_evaluation_gives(sample_pipeline, small_split):
    """The sweep reads the full rerank's scores from one evaluation and the small reranker's once; at each M its
    metric is the one an evaluation of the cascade at that M gets (the same cascade_hits), and it costs less."""
    from explorer.evaluation.cascade_sweep import cascade_sweep
    from explorer.evaluation.metrics import mean_metrics
    from explorer.evaluation.runner import EvalConfig, evaluate
    from explorer.inference.device import DeviceChoice
    from explorer.inference.engine import InferenceEngine
    from explorer.models.info import LoadedModel, ModelInfo
    from explorer.models.packaged import build_packaged_reranker
    from explorer.rerank.score_cache import ScoreCache

    cpu = DeviceChoice("cpu", "fp32", "test")
    model = build_packaged_reranker(cpu)
    small = LoadedModel(model, ModelInfo("packaged", "packaged MiniLM-L6 cross-encoder", "packaged", ""), cpu,
                        engine=InferenceEngine(model, cpu))
    pipeline = sample_pipeline.with_dataset(small_split).with_score_cache(ScoreCache())
    config = EvalConfig(split="few", depth=20, blend=0.5)
    full = evaluate(pipeline, config)
    sweep = cascade_sweep(pipeline, full, small, keeps=(3, 10, 20, 40))
    assert [p.keep for p in sweep.points] == [3, 10]  # M at or past the depth is no cascade
    assert sweep.full == pytest.approx(mean_metrics(full.qrels, full.ranked("reranked"), ["ndcg@10"])["ndcg@10"])
    for point in sweep.points:
        cascaded = evaluate(pipeline.with_cascade(small, point.keep), config)
        expected = mean_metrics(cascaded.qrels, cascaded.ranked("reranked"), ["ndcg@10"])["ndcg@10"]
        assert point.value == pytest.approx(expected, abs=1e-6)
        assert point.pairs_read_by_main == point.keep * len(full.outcomes)
    assert sweep.points[0].rerank_ms < sweep.points[1].rerank_ms
    with pytest.raises(ConfigError, match="cascade already"):
        cascade_sweep(pipeline, evaluate(pipeline.with_cascade(small, 3), config), small)

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
    from explorer.evaluation.cascade_sweep import PairTime, cascade_sweep
    from explorer.evaluation.cascade_variants import cascade_variants
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
    # the same M as rows for the Compare page: evaluations derived from the full rerank, the small reranker's scores
    # read back from the score cache
    variants = cascade_variants(pipeline, full, small, (3, 10, 20, 40), PairTime(2.0, 1, False)).evaluations
    assert [v.cascade for v in variants] == [f"small reranker → top {m}" for m in (3, 10)]
    passes = set()
    for point, variant in zip(sweep.points, variants):
        cascaded = evaluate(pipeline.with_cascade(small, point.keep), config)
        expected = mean_metrics(cascaded.qrels, cascaded.ranked("reranked"), ["ndcg@10"])["ndcg@10"]
        assert point.value == pytest.approx(expected, abs=1e-6)
        assert point.pairs_read_by_main == point.keep * len(full.outcomes)
        # every list as the cascade's evaluation ordered it, not only the same metric
        assert variant.ranked("reranked") == cascaded.ranked("reranked")
        # estimated: the small reranker's median pass (timed afresh: the cache answered its pairs) plus M pairs
        passes.update(round(o.rerank_ms - 2.0 * point.keep, 6) for o in variant.outcomes)
        assert {o.rerank_pairs for o in variant.outcomes} == {point.keep + 20}
        assert variant.estimated and f"{point.keep} pairs at 2.0 ms" in variant.estimated
    assert len(passes) == 1 and passes.pop() > 0
    # the chart's reference line, the first stage's own top M, is what the Compare page's rows of it score
    for point, variant in zip(sweep.first_stage_points, cascade_variants(pipeline, full, None, (3, 10)).evaluations):
        assert point.value == pytest.approx(mean_metrics(full.qrels, variant.ranked("reranked"),
                                                         ["ndcg@10"])["ndcg@10"], abs=1e-9)
        assert point.rerank_ms == pytest.approx(point.keep * sweep.full_ms / 20)
    assert sweep.points[0].rerank_ms < sweep.points[1].rerank_ms
    with pytest.raises(ConfigError, match="cascade already"):
        cascade_sweep(pipeline, evaluate(pipeline.with_cascade(small, 3), config), small)


def test_the_first_stages_top_m_reads_the_kept_scores_of_the_full_rerank_and_runs_no_model(sample_pipeline,
                                                                                         small_split):
    """Without a small reranker the first stage's order chooses what the reranker reads: its top M in the reranker's
    order (blended as the full rerank is), the rest as the first stage ranked them; the sweep's reference line and the
    Compare page's rows agree, and an evaluation at depth M ranks its top M the same way."""
    from explorer.evaluation.cascade_sweep import reranker_pair_time, sweep_cases
    from explorer.evaluation.cascade_variants import FIRST_STAGE, cascade_variants
    from explorer.evaluation.comparison import compare, configuration_names
    from explorer.evaluation.runner import EvalConfig, evaluate
    from explorer.pipeline import reranked_order
    from explorer.rerank.score_cache import ScoreCache

    pipeline = sample_pipeline.with_dataset(small_split).with_score_cache(ScoreCache())
    config = EvalConfig(split="few", depth=20, blend=0.5)
    full = evaluate(pipeline, config)
    cases, small_times = sweep_cases(pipeline, full, None)
    assert small_times == [] and all(c.small is None for c in cases)
    timed = reranker_pair_time(pipeline, full, cases)
    assert not timed.afresh and timed.queries == len(full.outcomes)  # every pair was scored afresh in it
    made = cascade_variants(pipeline, full, None, (4,))
    (top4,), per_pair = made.evaluations, made.pair_time.ms
    assert per_pair == timed.ms > 0 and made.small_ms == 0
    shallow = evaluate(pipeline, EvalConfig(split="few", depth=4, blend=0.5))
    for outcome, case, alone in zip(top4.outcomes, cases, shallow.outcomes):
        first = [h.doc_id for h in case.hits]
        assert list(outcome.reranked) == reranked_order(case.hits[:4], case.main[:4], 0.5) + first[4:]
        assert list(outcome.reranked[:4]) == list(alone.reranked)  # what reranking depth 4 gives
        assert outcome.rerank_ms == pytest.approx(4 * per_pair) and outcome.rerank_pairs == 4
    assert top4.cascade == f"{FIRST_STAGE} → top 4" and top4.reranker == full.reranker
    names = configuration_names([full, top4]).short
    assert names[1] == names[0] + f" · {FIRST_STAGE} → top 4"
    rows = compare([full, top4], ["ndcg@10"])
    assert rows[1].rerank_ms == pytest.approx(4 * per_pair) and rows[1].versus_baseline is not None
    with pytest.raises(ConfigError, match="under the evaluated depth"):
        cascade_variants(pipeline, full, None, (20, 30))
    # read back with every pair from the score cache, the evaluation's times are the cache's: the reranker is timed now
    again = evaluate(pipeline, config)
    assert not again.fresh_reranks()
    retimed = reranker_pair_time(pipeline, again, cases)
    assert retimed.afresh and retimed.queries == min(5, len(cases)) and retimed.ms > 0
    assert "timed afresh" in retimed.said()

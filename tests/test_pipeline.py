"""The two-stage pipeline on the sample data, with the real packaged bi-encoder and reranker."""

import pytest

from explorer.errors import ConfigError
from explorer.pipeline import RetrievalPipeline
from explorer.retrieval.embedding_cache import EmbeddingCache


@pytest.fixture(scope="module")
def pipeline(sample, bi_encoder, reranker, embedding_cache):
    return RetrievalPipeline.build(sample, bi_encoder, reranker, embedding_cache)


@pytest.fixture(scope="module")
def labelled_result(pipeline, sample):
    query = sample.labelled_queries("test")[0]
    return query, pipeline.search(query.text, depth=50)


def test_first_stage_is_sorted_cosine(labelled_result):
    _, result = labelled_result
    scores = [hit.score for hit in result.first_stage]
    assert len(scores) == 50 and scores == sorted(scores, reverse=True)
    assert [hit.rank for hit in result.first_stage] == list(range(1, 51))
    assert all(-1.0001 <= s <= 1.0001 for s in scores)


def test_reranked_list_is_a_reordering_with_consistent_rank_changes(labelled_result):
    _, result = labelled_result
    reranked = result.reranked
    assert {h.doc_id for h in reranked} == {h.doc_id for h in result.first_stage}
    assert [h.rank for h in reranked] == list(range(1, 51))
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)
    first_rank = {h.doc_id: h.rank for h in result.first_stage}
    for hit in reranked:
        assert hit.first_stage_rank == first_rank[hit.doc_id]
        assert hit.rank_change == hit.first_stage_rank - hit.rank
    assert sum(h.rank_change for h in reranked) == 0


def test_timings_are_present_and_add_up(labelled_result):
    _, result = labelled_result
    t = result.timings
    assert t.query_encoding_ms > 0 and t.first_stage_ms > 0 and t.reranking_ms > 0
    assert t.total_ms >= t.query_encoding_ms + t.first_stage_ms + t.reranking_ms - 0.01
    assert set(t.as_dict()) == {"query encoding", "first-stage search", "reranking"}


def test_the_first_stage_finds_the_answer_for_most_test_queries(pipeline, sample):
    found = 0
    queries = sample.labelled_queries("test")
    for query in queries:
        best = {d for d, g in sample.labels_for(query.query_id).items() if g == 3}
        hits = pipeline.search(query.text, depth=100, rerank=False)
        found += bool(best & {h.doc_id for h in hits.first_stage})
        assert hits.reranked is None and hits.timings.reranking_ms == 0
    assert found / len(queries) >= 0.8


def test_without_a_reranker_only_the_first_stage_runs(pipeline):
    result = pipeline.with_reranker(None).search("rotate a secret", depth=10)
    assert result.reranked is None and result.reranker is None and len(result.first_stage) == 10


def test_depth_larger_than_the_corpus_returns_everything(sample, bi_encoder, tmp_path):
    from explorer.records import Dataset

    tiny = Dataset("tiny", sample.documents[:7], {})
    result = RetrievalPipeline.build(tiny, bi_encoder, None, EmbeddingCache(tmp_path)).search("deploy", depth=100)
    assert len(result.first_stage) == 7


@pytest.mark.parametrize(("query", "depth", "message"), [("  ", 10, "query is empty"), ("vpn", 0, "between 1 and")])
def test_bad_requests(pipeline, query, depth, message):
    with pytest.raises(ConfigError, match=message):
        pipeline.search(query, depth=depth)


def test_a_query_longer_than_the_bi_encoder_reads_is_said_not_cut_silently(pipeline):
    long = " ".join(["vpn disconnects when the laptop sleeps"] * 2000)  # 12,000 words
    result = pipeline.search(long, depth=5, rerank=False)
    assert result.query_tokens > 10_000 and 0 < result.query_token_limit < 1000
    assert "the bi-encoder read only its first" in result.query_cut
    assert pipeline.search("vpn drops", depth=5, rerank=False).query_cut == ""

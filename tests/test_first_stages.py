"""BM25 (bm25s) and hybrid (reciprocal rank fusion) first stages, next to the dense one, on the sample data."""

import pytest

from explorer.errors import ConfigError
from explorer.records import Hit
from explorer.retrieval.bm25_index import Bm25Index
from explorer.retrieval.fusion import reciprocal_rank_fusion


def test_bm25_ranks_by_shared_rare_words():
    index = Bm25Index(["the cat sat on the mat", "a dog barked at the cat", "quantum flux capacitor"],
                      ["d1", "d2", "d3"])
    hits = index.search("flux capacitor repair", depth=10)
    assert [h.doc_id for h in hits] == ["d3"]  # documents sharing no query word are not returned
    cats = index.search("cat mat", depth=10)
    assert [h.doc_id for h in cats] == ["d1", "d2"] and cats[0].score > cats[1].score
    assert index.search("the of and", depth=10) == []  # stop words only


def test_bm25_refuses_an_empty_corpus():
    with pytest.raises(ConfigError, match="corpus is empty"):
        Bm25Index([], [])


def test_reciprocal_rank_fusion_by_hand():
    dense = [Hit(1, "a", 0.9), Hit(2, "b", 0.8), Hit(3, "c", 0.7)]
    lexical = [Hit(1, "c", 12.0), Hit(2, "d", 9.0)]
    fused = reciprocal_rank_fusion([dense, lexical], depth=3, k=60)
    # c: 1/63 + 1/61; a: 1/61; b: 1/62; d: 1/62 (b met first)
    assert [h.doc_id for h in fused] == ["c", "a", "b"]
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert [h.rank for h in fused] == [1, 2, 3]


@pytest.mark.parametrize("kind", ["dense", "bm25", "hybrid"])
def test_each_first_stage_through_the_pipeline(sample_pipeline, sample, kind):
    query = sample.labelled_queries("test")[0]
    result = sample_pipeline.search(query.text, depth=20, rerank=False, first_stage_method=kind)
    assert result.first_stage_method == kind
    assert 0 < len(result.first_stage) <= 20
    assert [h.rank for h in result.first_stage] == list(range(1, len(result.first_stage) + 1))
    scores = [h.score for h in result.first_stage]
    assert scores == sorted(scores, reverse=True)
    assert (result.timings.query_encoding_ms == 0.0) == (kind == "bm25")  # BM25 needs no encoder


def test_bm25_finds_the_answers_on_the_sample_test_split(sample_pipeline, sample):
    found = 0
    queries = sample.labelled_queries("test")
    for query in queries:
        best = {d for d, g in sample.labels_for(query.query_id).items() if g == 3}
        ids = {h.doc_id for h in sample_pipeline.search(query.text, depth=10, rerank=False, first_stage_method="bm25").first_stage}
        found += bool(best & ids)
    assert found / len(queries) > 0.7


def test_unknown_first_stage(sample_pipeline):
    with pytest.raises(ConfigError, match="choose one of: dense, bm25, hybrid"):
        sample_pipeline.search("vpn", first_stage_method="sparse")

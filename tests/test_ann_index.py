"""Exact search for small corpora, HNSW above a threshold, and HNSW's recall measured against exact search."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ConfigError
from explorer.retrieval.dense_index import DenseIndex, IndexOptions, exact_top_k, measure_recall, recall_at_k


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_recall_at_k_by_hand():
    found = np.array([[0, 1, 2], [5, 6, -1], [7, 8, 9]])
    exact = np.array([[2, 1, 9], [5, 6, 7], [1, 2, 3]])
    np.testing.assert_allclose(recall_at_k(found, exact), [2 / 3, 2 / 3, 0.0])


def test_recall_needs_matching_rows():
    with pytest.raises(ConfigError, match="must match"):
        recall_at_k(np.zeros((2, 3), dtype=int), np.zeros((3, 3), dtype=int))


def test_exact_top_k_is_the_brute_force_top_k():
    vectors, queries = unit_vectors(300), unit_vectors(5, seed=1)
    scores = queries @ vectors.T
    for row, top in zip(scores, exact_top_k(vectors, queries, 10)):
        assert set(top) == set(np.argsort(-row)[:10])


def test_small_corpus_gets_exact_search():
    index = DenseIndex(unit_vectors(500), [f"d{i}" for i in range(500)], IndexOptions(hnsw_threshold=1000))
    assert index.kind == "exact" and index.recall is None
    assert index.description.startswith("exact")


def test_above_the_threshold_hnsw_is_chosen_and_its_recall_reported():
    vectors = unit_vectors(2000)
    options = IndexOptions(hnsw_threshold=1000, recall_k=10, recall_queries=50)
    index = DenseIndex(vectors, [f"d{i}" for i in range(2000)], options)
    assert index.kind == "hnsw"
    assert index.recall is not None and index.recall.k == 10 and index.recall.queries == 50
    assert 0.9 <= index.recall.recall <= 1.0 and index.recall.worst <= index.recall.recall
    assert "recall@10" in index.description
    hits = index.search(vectors[3], 5)
    assert hits[0].doc_id == "d3" and [h.rank for h in hits] == [1, 2, 3, 4, 5]


def test_measured_recall_is_the_share_of_exact_neighbours_found():
    vectors = unit_vectors(1500, seed=3)
    index = DenseIndex(vectors, [str(i) for i in range(1500)], IndexOptions(hnsw_threshold=1, ef_search=16,
                                                                           recall_k=50, recall_queries=20))
    queries = unit_vectors(20, seed=4)
    report = measure_recall(index, vectors, queries)
    _, found = index.search_rows(queries, 50)
    expected = np.mean([len(set(f) & set(e)) / 50 for f, e in zip(found, exact_top_k(vectors, queries, 50))])
    assert report.recall == pytest.approx(expected)


def test_pipeline_reports_the_index_it_built(sample, bi_encoder, embedding_cache):
    from explorer.pipeline import RetrievalPipeline

    cache = embedding_cache
    exact = RetrievalPipeline.build(sample, bi_encoder, None, cache)
    assert exact.index_report.index_kind == "exact" and exact.index_report.recall is None
    approximate = RetrievalPipeline.build(sample, bi_encoder, None, cache,
                                          index_options=IndexOptions(hnsw_threshold=100, recall_k=20))
    report = approximate.index_report
    assert report.index_kind == "hnsw" and report.recall is not None and report.recall.k == 20
    assert report.recall.recall > 0.9
    result = approximate.search("rotate the database password", depth=20, rerank=False)
    assert len(result.first_stage) == 20

"""The on-disk embedding cache: keyed by model and content, never trusted when damaged."""

import json

import numpy as np

from explorer.pipeline import RetrievalPipeline
from explorer.records import Dataset, Document
from explorer.retrieval.embedding_cache import EmbeddingCache, cache_key


def test_key_changes_with_model_text_order_and_options():
    base = cache_key("model-a", ["one", "two"])
    assert cache_key("model-a", ["one", "two"]) == base
    assert cache_key("model-b", ["one", "two"]) != base
    assert cache_key("model-a", ["one", "two!"]) != base
    assert cache_key("model-a", ["two", "one"]) != base
    assert cache_key("model-a", ["onetwo"]) != cache_key("model-a", ["one", "two"])
    assert cache_key("model-a", ["one", "two"], options="max_len=128") != base


def test_round_trip_and_damage_detection(tmp_path):
    cache = EmbeddingCache(tmp_path)
    vectors = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    cache.save("k", vectors, {"model": "m"})
    assert np.array_equal(cache.load("k", 5), vectors)
    assert cache.load("k", 6) is None  # wrong row count
    assert cache.load("absent", 5) is None
    raw = bytearray((tmp_path / "k.npy").read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / "k.npy").write_bytes(bytes(raw))
    assert cache.load("k", 5) is None  # checksum catches the flipped byte
    (tmp_path / "k.json").write_text("{broken", encoding="utf-8")
    assert cache.load("k", 5) is None


def test_cache_files_hold_no_pickle(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.save("k", np.ones((2, 3), dtype=np.float32), {"model": "m"})
    meta = json.loads((tmp_path / "k.json").read_text())
    assert meta["rows"] == 2 and meta["dim"] == 3
    np.load(tmp_path / "k.npy", allow_pickle=False)


def small_corpus(extra=""):
    docs = [Document(f"d{i}", f"Note {i}", f"Runbook step {i}: restart service number {i}{extra}.") for i in range(12)]
    return Dataset("small", tuple(docs), {})


def test_reopening_a_corpus_reads_the_cache_and_a_change_re_embeds(tmp_path, bi_encoder):
    cache = EmbeddingCache(tmp_path)
    first = RetrievalPipeline.build(small_corpus(), bi_encoder, None, cache)
    again = RetrievalPipeline.build(small_corpus(), bi_encoder, None, cache)
    changed = RetrievalPipeline.build(small_corpus(extra=" now"), bi_encoder, None, cache)
    assert (first.index_report.from_cache, again.index_report.from_cache, changed.index_report.from_cache) == (
        False, True, False)
    assert len(list(tmp_path.glob("*.npy"))) == 2
    query = "restart service number 3"
    assert [h.doc_id for h in first.search(query, 5).first_stage] == [h.doc_id for h in again.search(query, 5).first_stage]


def test_embedding_reports_progress(tmp_path, bi_encoder):
    seen = []
    RetrievalPipeline.build(small_corpus(), bi_encoder, None, EmbeddingCache(tmp_path), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (12, 12)

"""The fast engine: faithful to plain fp32 inference, in input order, cached, truncation counted."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from explorer.errors import ConfigError
from explorer.inference.backends import EngineConfig
from explorer.inference.calibration import CALIBRATION_PAIRS, calibration_pairs
from explorer.inference.device import DeviceChoice, detect_accelerators
from explorer.inference.engine import InferenceEngine
from explorer.inference.length_batching import plan_batches
from explorer.inference.openvino_backend import int8_unavailable_reason, unavailable_reason
from explorer.models.info import LoadedModel, ModelInfo
from explorer.models.packaged import build_packaged_reranker
from explorer.rerank.score_cache import ScoreCache, pair_key
from explorer.rerank.scoring import score_pairs

CPU32 = DeviceChoice("cpu", "fp32", "tests")
BF16 = DeviceChoice("cpu", "bf16", "tests")
# what OpenVINO computes in when bf16 is asked for: fp32 on a CPU without bf16 units (AVX2), and the label says so
OPENVINO_BF16 = "openvino · " + ("bf16" if detect_accelerators().cpu_bf16 else "fp32")
QUERIES = ("rotate the database password", "vpn drops every few minutes", "how long are application logs kept")


@pytest.fixture(scope="module")
def cases(sample):
    """Three real queries, each with 24 real passages of the sample data (its own label-3 passage among them)."""
    texts = [doc.full_text for doc in sample.documents]
    rng = np.random.default_rng(7)
    return [(query, [texts[i] for i in rng.choice(len(texts), 24, replace=False)]) for query in QUERIES]


def fp32_predict(model, query: str, texts: list[str]) -> np.ndarray:
    return np.asarray(model.predict([(query, t) for t in texts], batch_size=32, activation_fn=torch.nn.Identity(),
                                    show_progress_bar=False), dtype=np.float32)


def fresh_reranker(device: DeviceChoice, backend: str = "auto", compiled_dir=None, int8: bool = False,
                   background: bool = False, layers: int | None = None) -> LoadedModel:
    """A model object of its own, so its engine settings touch no other test; with ``layers``, only that many of
    its lower transformer layers (a smaller model of the same architecture, quicker to convert and quantise)."""
    model = build_packaged_reranker(CPU32)
    if layers is not None:
        from explorer.training.trainer import keep_lower_layers

        keep_lower_layers(model, layers)
    config = EngineConfig(backend=backend, compiled_dir=compiled_dir, int8=int8,  # type: ignore[arg-type]
                          int8_in_background=background)
    info = ModelInfo("packaged", "packaged", "packaged", "", trained_for_relevance=False, fingerprint="")
    return LoadedModel(model, info, device, engine=InferenceEngine(model, device, config))


def test_the_precision_openvino_computes_in_is_read_from_its_own_type_names():
    import openvino as ov

    from explorer.inference.openvino_backend import computed_precision

    # OpenVINO names bf16 "bfloat16" (a CPU with bf16 units computes in it; the label must say bf16, not fp32)
    assert [computed_precision(t) for t in (ov.Type.bf16, ov.Type.f32, ov.Type.f16)] == ["bf16", "fp32", "fp32"]
    assert computed_precision("bf16") == "bf16" and computed_precision("f32") == "fp32"


# ---- length batching -------------------------------------------------------------------------------------------

def padded_tokens(lengths: Sequence[int] | np.ndarray, batches: Sequence[np.ndarray]) -> int:
    """Positions a model computes for these batches (rows x longest row, summed): the cost padding adds to."""
    sizes = np.asarray(lengths, dtype=np.int64)
    return int(sum(len(rows) * int(sizes[rows].max()) for rows in batches if len(rows)))


def test_batches_take_longest_first_and_keep_every_row_once():
    batches = plan_batches([3, 10, 5, 10, 1], max_batch=2, token_budget=100)
    assert [list(b) for b in batches] == [[1, 3], [2, 0], [4]]  # ties keep input order


def test_token_budget_shrinks_batches_of_long_inputs():
    # 10-token rows: 15 // 10 = 1 row per batch; 5-token rows: 15 // 5 = 3, capped by max_batch 2
    batches = plan_batches([3, 10, 5, 10, 1], max_batch=2, token_budget=15)
    assert [list(b) for b in batches] == [[1], [3], [2, 0], [4]]
    assert padded_tokens([3, 10, 5, 10, 1], batches) == 10 + 10 + 2 * 5 + 1


def test_a_row_longer_than_the_budget_still_gets_a_batch():
    assert [list(b) for b in plan_batches([50, 2], max_batch=8, token_budget=10)] == [[0], [1]]


def test_sorting_by_length_pads_less_than_input_order():
    lengths = [200, 20, 180, 30, 190, 25, 210, 15]
    sorted_cost = padded_tokens(lengths, plan_batches(lengths, max_batch=2, token_budget=10_000))
    in_order = padded_tokens(lengths, [np.array([i, i + 1]) for i in range(0, 8, 2)])
    assert sorted_cost < in_order


@pytest.mark.parametrize(("max_batch", "budget"), [(0, 10), (1, 0)])
def test_batching_rejects_empty_batches(max_batch, budget):
    with pytest.raises(ConfigError, match="at least 1"):
        plan_batches([1, 2], max_batch=max_batch, token_budget=budget)


def test_engine_returns_scores_in_input_order(reranker, cases):
    query, texts = cases[0]
    forward = score_pairs(reranker, query, texts, cache=None).raw
    backward = score_pairs(reranker, query, texts[::-1], cache=None).raw
    # in fp32 a pair's score does not depend on its batch; in bf16 or int8 (where EXPLORER_ENGINE forces it) the
    # batch's padding moves the rounding, by up to about 0.6 % of a score (tests/test_shared_runs.py)
    exact = reranker.engine.info().precision == "fp32"
    tolerance = 1e-4 if exact else 0.01 * float(np.abs(forward).max())
    assert not np.allclose(forward[::-1], forward, atol=tolerance)  # out of order would not pass
    np.testing.assert_allclose(backward[::-1], forward, atol=tolerance)
    alone = score_pairs(reranker, query, texts[5:6], cache=None).raw  # no padding at all
    np.testing.assert_allclose(alone, forward[5:6], atol=tolerance)


# ---- agreement with plain fp32 predict ---------------------------------------------------------------------

def test_fp32_engine_matches_plain_predict(cases):
    loaded = fresh_reranker(CPU32)  # fp32 asked for: exact, whatever the CPU and EXPLORER_ENGINE
    for query, texts in cases:
        fast = score_pairs(loaded, query, texts, cache=None).raw
        np.testing.assert_allclose(fast, fp32_predict(loaded.model, query, texts), atol=1e-3)


def test_the_session_reranker_takes_the_forced_engine_path_and_stays_faithful(reranker, settings, cases):
    """The suite's shared reranker runs on the path EXPLORER_ENGINE forces (auto: this CPU's own), and ranks as
    fp32 does on it."""
    label = reranker.engine.info().label
    expected = {"fp32": "torch · fp32", "int8": "openvino · int8", "bf16": OPENVINO_BF16}.get(settings.engine_path)
    if expected is not None:
        assert label == expected, reranker.engine.info()
    # int8 reorders near-ties among the unrelated passages more than bf16 does (0.987 seen on AVX2); a clear winner
    # still wins
    _assert_faithful(reranker, reranker.model, cases, spearman=0.98 if "int8" in label else 0.99)


def _assert_faithful(loaded: LoadedModel, reference_model, cases, spearman: float = 0.99) -> None:
    for query, texts in cases:
        reference = fp32_predict(reference_model, query, texts)
        fast = score_pairs(loaded, query, texts, cache=None).raw
        assert spearmanr(reference, fast)[0] >= spearman
        best, second = np.sort(reference)[::-1][:2]
        if best - second > 0.05:  # a clear winner must stay the winner (near-ties may swap in bf16)
            assert int(np.argmax(fast)) == int(np.argmax(reference))


def test_bf16_torch_engine_agrees_with_fp32(cases):
    loaded = fresh_reranker(BF16, backend="torch")
    _assert_faithful(loaded, loaded.model, cases)
    assert loaded.engine.info().label == "torch · bf16"
    # the shared model itself was not cast: the bf16 weights are the engine's private copy
    assert next(loaded.model.parameters()).dtype == torch.float32


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_bf16_openvino_engine_agrees_with_fp32(cases, tmp_path):
    loaded = fresh_reranker(BF16, backend="openvino", compiled_dir=tmp_path)
    _assert_faithful(loaded, loaded.model, cases)
    assert loaded.engine.info().backend == "openvino"
    assert list(tmp_path.glob("*.xml")) and list(tmp_path.glob("*.bin"))  # kept for the next process
    # the CPU plugin's kernels are named by instruction set: what shows whether a ONEDNN_MAX_CPU_ISA cap took effect
    from explorer.inference.openvino_backend import ISA_NAMES

    isas = loaded.engine.stages()[0].kernel_isas()
    assert isas and set(isas) <= set(ISA_NAMES) and all(count > 0 for count in isas.values())
    # a second model with the same weights reads the converted graph back and scores the same
    again = fresh_reranker(BF16, backend="openvino", compiled_dir=tmp_path)
    query, texts = cases[0]
    np.testing.assert_allclose(score_pairs(again, query, texts, cache=None).raw,
                               score_pairs(loaded, query, texts, cache=None).raw, atol=1e-5)


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_openvino_runs_batches_side_by_side_in_order_and_hands_a_failure_to_the_caller(cases, tmp_path):
    """run_many: each batch once, its output where it came in (as one batch at a time gives it), on threads that
    have all ended when it returns; a batch OpenVINO refuses raises in the caller, not in a thread of its own."""
    loaded = fresh_reranker(CPU32, backend="openvino", compiled_dir=tmp_path, layers=1)
    graph = loaded.engine.stages()[0]
    assert type(graph).__name__ == "OpenVinoTransformer" and graph.streams >= 1
    model = loaded.model
    batches = [dict(model.tokenizer([query] * len(texts[:n]), texts[:n], padding=True, truncation=True,
                                    max_length=64, return_tensors="pt"))
               for query, texts in cases for n in (3, 7)]
    together = graph.run_many(batches)
    for batch, result in zip(batches, together):
        alone = graph(batch)[graph.module_output]
        assert result[graph.module_output].shape == alone.shape
        np.testing.assert_allclose(result[graph.module_output].numpy(), alone.numpy(), atol=1e-5)
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("openvino-run")]
    broken = dict(batches[0], input_ids=batches[0]["input_ids"][:, :2])  # shorter than its attention mask
    with pytest.raises(RuntimeError, match="Exception from src/"):  # OpenVINO's own error, not "without an output"
        graph.run_many([batches[1], broken, batches[2]])


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_a_command_process_keeps_every_graph_it_compiles_until_it_ends(tmp_path, monkeypatch):
    """keep_every_graph (``python -m explorer`` calls it): a compiled graph whose model goes out of use is not
    destroyed while the process runs (destroying one was seen to hang), as the process then ends without
    destroying anything; without it, the graph goes with its model."""
    import gc
    import weakref

    import explorer.inference.openvino_backend as backend

    kept: list = []
    monkeypatch.setattr(backend, "_KEPT_ALIVE", kept)
    for every in (False, True):
        monkeypatch.setattr(backend, "_KEEP_EVERY_GRAPH", every)
        loaded = fresh_reranker(CPU32, backend="openvino", compiled_dir=tmp_path, layers=1)
        graph = loaded.engine.stages()[0]
        assert type(graph).__name__ == "OpenVinoTransformer"
        compiled = graph._compiled
        owner = weakref.ref(graph)
        assert any(item is compiled for item in kept) is every
        del loaded, graph, compiled
        gc.collect()
        assert owner() is None  # the model and its stages are gone ...
        assert len(kept) == (1 if every else 0)  # ... and the graph stays only where every graph is kept


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_int8_without_nncf_falls_back_to_bf16_and_says_so(cases, tmp_path, monkeypatch):
    import explorer.inference.openvino_backend as backend

    monkeypatch.setattr(backend, "int8_unavailable_reason", lambda: "NNCF is not installed (simulated).")
    loaded = fresh_reranker(BF16, compiled_dir=tmp_path, int8=True)
    info = loaded.engine.info()
    assert info.label == OPENVINO_BF16
    assert "int8 not used: NNCF is not installed (simulated)." in info.note
    _assert_faithful(loaded, loaded.model, cases[:1])


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None or int8_unavailable_reason() is not None,
                    reason=str(unavailable_reason() or int8_unavailable_reason()))
def test_int8_is_made_in_the_background_while_bf16_answers_then_ranks_like_fp32_and_is_kept(cases, tmp_path,
                                                                                          monkeypatch):
    import explorer.inference.openvino_backend as backend

    # on a two-layer model of the reranker's architecture (the background preparation and int8's faithfulness to
    # fp32 are the subject, not the depth of the model: half the time of the six-layer one on this machine);
    # the real quantisation, held until the test has scored in bf16, so the order of events is certain
    release, quantise = threading.Event(), backend._quantised

    def held(*args, **kwargs):
        assert release.wait(300), "the test never released the quantisation"
        return quantise(*args, **kwargs)

    monkeypatch.setattr(backend, "_quantised", held)
    loaded = fresh_reranker(BF16, compiled_dir=tmp_path, int8=True, background=True, layers=2)
    assert loaded.engine.info().label == OPENVINO_BF16  # answers at once, before any int8 graph exists
    pending = loaded.engine.upgrading
    assert pending is not None and pending.answering_from == OPENVINO_BF16 and "background" in pending.note
    query, texts = cases[0]
    cache = ScoreCache()
    meanwhile = score_pairs(loaded, query, texts, cache=cache)
    assert meanwhile.ran == OPENVINO_BF16 and meanwhile.from_cache == 0
    release.set()
    assert loaded.engine.settled(timeout=600).label == "openvino · int8"
    assert loaded.engine.upgrading is None and pending.done.is_set()
    after = score_pairs(loaded, query, texts, cache=cache)
    # int8 scores are their own cache entries: nothing scored in bf16 answers for int8
    assert after.ran == "openvino · int8" and after.from_cache == 0
    assert spearmanr(fp32_predict(loaded.model, query, texts), meanwhile.raw)[0] >= 0.98
    for query, texts in cases:  # int8 ranks as fp32 does
        reference = fp32_predict(loaded.model, query, texts)
        fast = score_pairs(loaded, query, texts, cache=None).raw
        assert spearmanr(reference, fast)[0] >= 0.98
        assert len(set(np.argsort(-reference)[:5]) & set(np.argsort(-fast)[:5])) >= 4

    # the quantised graph is kept: the next engine of these weights reads it back (no calibration, no quantising),
    # runs int8 from the start with nothing in the background, and scores the same
    kept = sorted(path.name for path in tmp_path.glob("*.xml"))
    import explorer.inference.calibration

    def no_calibration(*args, **kwargs):
        raise AssertionError("a kept int8 graph needs no calibration")

    monkeypatch.setattr(explorer.inference.calibration, "calibration_pairs", no_calibration)
    again = fresh_reranker(BF16, compiled_dir=tmp_path, int8=True, background=True, layers=2)
    assert again.engine.info().label == "openvino · int8" and again.engine.upgrading is None
    query, texts = cases[0]
    np.testing.assert_allclose(score_pairs(again, query, texts, cache=None).raw,
                               score_pairs(loaded, query, texts, cache=None).raw, atol=1e-5)
    assert sorted(path.name for path in tmp_path.glob("*.xml")) == kept


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None or int8_unavailable_reason() is not None,
                    reason=str(unavailable_reason() or int8_unavailable_reason()))
def test_a_background_int8_preparation_that_fails_leaves_bf16_running_and_says_why(cases, tmp_path, monkeypatch):
    import explorer.inference.openvino_backend as backend

    def broken(*args, **kwargs):
        raise RuntimeError("quantisation failed (simulated)")

    monkeypatch.setattr(backend, "_quantised", broken)
    loaded = fresh_reranker(BF16, compiled_dir=tmp_path, int8=True, background=True)
    info = loaded.engine.settled(timeout=600)
    assert info.label == OPENVINO_BF16 and "int8 not used: quantisation failed (simulated)" in info.note
    assert loaded.engine.upgrading is None
    query, texts = cases[0]
    assert score_pairs(loaded, query, texts, cache=None).ran == OPENVINO_BF16


def test_int8_calibration_pairs_come_from_the_train_queries_only(sample):
    pairs = calibration_pairs()
    assert len(pairs) == CALIBRATION_PAIRS
    assert pairs == calibration_pairs()  # the same on every machine: a kept int8 graph stays valid
    test_queries = {query.text for query in sample.labelled_queries("test")}
    train_queries = {query.text for query in sample.labelled_queries("train")}
    assert {query for query, _ in pairs} <= train_queries - test_queries
    corpus = {doc.full_text for doc in sample.documents}
    assert {text for _, text in pairs} <= corpus


def test_fp16_on_cuda_runs_the_model_as_loaded_simulated():
    """No GPU here: the engine's choice for CUDA is checked without running a batch."""
    model = build_packaged_reranker(CPU32)
    info = InferenceEngine(model, DeviceChoice("cuda", "fp16", "simulated")).info()
    assert (info.backend, info.precision) == ("torch", "fp16")
    with pytest.raises(ConfigError, match="runs on the CPU"):
        InferenceEngine(model, DeviceChoice("cuda", "fp16", "simulated"), EngineConfig(backend="openvino")).info()


def test_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="auto, torch, openvino"):
        EngineConfig(backend="tensorrt")  # type: ignore[arg-type]


# ---- truncation -------------------------------------------------------------------------------------------------

def test_pairs_cut_at_the_token_limit_are_counted(reranker, cases):
    query, texts = cases[0]
    long_text = " ".join([texts[0]] * 40)
    scores = score_pairs(reranker, query, [texts[1], long_text], cache=None)
    assert scores.max_length == reranker.model.max_seq_length
    assert scores.truncated == 1


# ---- score cache ---------------------------------------------------------------------------------------------

class CountingPreprocess:
    """A thin wrapper around the real model's own tokenisation: it counts the inputs the model is asked to read."""

    def __init__(self, model) -> None:
        self.real = model.preprocess
        self.inputs = 0

    def __call__(self, inputs, *args, **kwargs):
        self.inputs += len(inputs)
        return self.real(inputs, *args, **kwargs)


def test_cache_answers_repeats_without_the_model(cases):
    loaded = fresh_reranker(CPU32)
    counter = CountingPreprocess(loaded.model)
    loaded.model.preprocess = counter
    loaded.engine.info()  # prepares the engine (reads a two-input example)
    cache = ScoreCache()
    query, texts = cases[0]
    counter.inputs = 0
    first = score_pairs(loaded, query, texts, cache=cache)
    assert counter.inputs == len(texts) and first.from_cache == 0
    again = score_pairs(loaded, query, texts, cache=cache)
    assert counter.inputs == len(texts)  # the model read nothing more
    assert again.from_cache == len(texts)
    np.testing.assert_array_equal(again.raw, first.raw)
    shallower = score_pairs(loaded, query, texts[:10], cache=cache)  # a smaller depth: all known
    assert counter.inputs == len(texts)
    np.testing.assert_array_equal(shallower.raw, first.raw[:10])
    deeper = score_pairs(loaded, query, texts + ["a passage never scored before"], cache=cache)
    assert counter.inputs == len(texts) + 1  # only the new pair was read
    np.testing.assert_array_equal(deeper.raw[:-1], first.raw)


def test_cache_keeps_models_and_queries_apart(cases):
    query, texts = cases[0]
    cache = ScoreCache()
    one, other = fresh_reranker(CPU32), fresh_reranker(CPU32)  # no fingerprints: told apart by their engines
    score_pairs(one, query, texts[:3], cache=cache)
    assert score_pairs(other, query, texts[:3], cache=cache).from_cache == 0
    assert score_pairs(one, query + "?", texts[:3], cache=cache).from_cache == 0
    assert score_pairs(one, query, texts[:3], cache=cache).from_cache == 3


def test_cache_forgets_the_least_recently_used():
    cache = ScoreCache(capacity=2)
    cache.put_many("m", "q", ["a", "b"], [(1.0, False), (2.0, True)])
    assert cache.get_many("m", "q", ["a"]) == [(1.0, False)]  # "a" is now the most recent
    cache.put_many("m", "q", ["c"], [(3.0, False)])
    assert cache.get_many("m", "q", ["a", "b", "c"]) == [(1.0, False), None, (3.0, False)]
    assert cache.stats().size == 2


def test_cache_keys_do_not_collide_on_concatenation():
    assert pair_key("m", "ab", "c") != pair_key("m", "a", "bc")
    with pytest.raises(ConfigError, match="at least one"):
        ScoreCache(capacity=0)


# ---- embedding -------------------------------------------------------------------------------------------------

def test_engine_embeddings_match_plain_encode(bi_encoder, sample):
    from explorer.retrieval.embedding import encode_query, encode_texts

    texts = [doc.full_text for doc in sample.documents[:40]]
    reference = bi_encoder.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
    fast = encode_texts(bi_encoder, texts)
    assert np.min(np.sum(reference * fast, axis=1)) > 0.9999
    single = encode_query(bi_encoder, texts[3])
    assert float(single[0] @ reference[3]) > 0.9999


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_bf16_openvino_embeddings_are_faithful(bi_encoder, sample, tmp_path):
    from sentence_transformers import SentenceTransformer

    from explorer.models.packaged import packaged_encoder_path
    from explorer.retrieval.embedding import encode_query, encode_texts

    model = SentenceTransformer(str(packaged_encoder_path()), device="cpu", local_files_only=True)
    engine = InferenceEngine(model, BF16, EngineConfig(backend="openvino", compiled_dir=tmp_path))
    loaded = LoadedModel(model, bi_encoder.info, BF16, engine=engine)
    texts = [doc.full_text for doc in sample.documents[:40]]
    reference = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=False)
    fast = encode_texts(loaded, texts)
    assert np.min(np.sum(reference * fast, axis=1)) >= 0.999
    assert float(encode_query(loaded, texts[3])[0] @ reference[3]) >= 0.999  # a batch of one, unpadded


def test_an_uncached_pipeline_shares_everything_but_the_score_cache(sample_pipeline):
    timing = sample_pipeline.uncached()
    assert timing.score_cache is None and sample_pipeline.score_cache is not None
    assert timing.index is sample_pipeline.index and timing.reranker is sample_pipeline.reranker
    assert sample_pipeline.with_reranker(None).score_cache is sample_pipeline.score_cache


def test_an_engine_says_what_preparing_it_will_take_and_whether_it_is_done(tmp_path):
    loaded = fresh_reranker(BF16, compiled_dir=tmp_path, int8=True)
    assert not loaded.engine.is_prepared
    assert "int8" in loaded.engine.preparing_note and "minute" in loaded.engine.preparing_note
    plain = fresh_reranker(CPU32)
    plain.engine.info()
    assert plain.engine.is_prepared and "a few seconds" in plain.engine.preparing_note


def test_scores_kept_on_disk_answer_a_new_process_without_the_model(cases, tmp_path):
    from explorer.rerank.score_cache import persistent_score_cache

    loaded = fresh_reranker(CPU32)
    query, texts = cases[0]
    first = score_pairs(loaded, query, texts, cache=persistent_score_cache(tmp_path))
    counter = CountingPreprocess(loaded.model)
    loaded.model.preprocess = counter
    loaded.engine.info()
    counter.inputs = 0
    restarted = persistent_score_cache(tmp_path)  # as a new process would open it: nothing in memory
    again = score_pairs(loaded, query, texts, cache=restarted)
    assert counter.inputs == 0 and again.from_cache == len(texts)
    np.testing.assert_array_equal(again.raw, first.raw)
    assert restarted.stats().hits == len(texts)


def test_the_score_store_is_bounded_and_drops_the_least_recently_used(tmp_path):
    from explorer.rerank.score_store import ScoreStore

    store = ScoreStore(tmp_path / "scores.sqlite3", max_rows=3)
    for number in range(5):
        store.put_many([bytes([number])], [(float(number), False)])
    assert len(store) == 3
    assert set(store.get_many([bytes([n]) for n in range(5)])) == {bytes([2]), bytes([3]), bytes([4])}
    other = ScoreStore(tmp_path / "scores.sqlite3", max_rows=3)  # a second process on the same file
    other.put_many([b"x"], [(9.0, True)])
    assert store.get_many([b"x"]) == {b"x": (9.0, True)}


@pytest.mark.parametrize(("lengths", "streams", "expected"), [
    ([256] * 10, 2, [5, 5]),  # filled to the 2,048-token budget these were 8 and 2: one core idle most of the time
    ([256] * 10, 4, [3, 3, 3, 1]),  # no stream holds more than 3 rows
    ([256] * 3, 2, [2, 1]), ([40], 2, [1]),
    ([256] * 17, 2, [5, 5, 5, 2]),  # 3 batches at 2,048 (8, 8, 1) become 4: at most 10 rows a stream
    ([256] * 10, 1, [8, 2]),  # one stream: the budget alone, as plan_batches cuts
])
def test_batches_for_streams_keep_every_stream_busy_to_the_end(lengths, streams, expected):
    from explorer.inference.length_batching import plan_for_streams

    batches = plan_for_streams(lengths, max_batch=32, token_budget=2048, streams=streams)
    assert [len(b) for b in batches] == expected
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))  # every row once


def test_batches_for_streams_are_about_equal_in_cost_and_within_the_budget():
    from explorer.inference.length_batching import plan_for_streams

    lengths = np.random.default_rng(0).integers(50, 257, 100)
    batches = plan_for_streams(lengths, max_batch=32, token_budget=2048, streams=2)
    costs = [len(rows) * int(lengths[rows].max()) for rows in batches]
    assert len(batches) % 2 == 0 and max(costs) <= 2048
    assert min(costs) >= 0.75 * max(costs), costs  # filled to the budget, the last batch held a few rows
    assert [int(lengths[rows].max()) for rows in batches] == sorted((int(lengths[rows].max()) for rows in batches),
                                                                    reverse=True)  # longest first
    assert sorted(np.concatenate(batches).tolist()) == list(range(100))


def _resident_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
@pytest.mark.skipif(not Path("/proc/self/statm").is_file(), reason="reads the process's memory from /proc")
@pytest.mark.skipif(int8_unavailable_reason() is not None, reason=str(int8_unavailable_reason()))
def test_batches_of_ever_new_shapes_do_not_grow_the_process_without_end(sample, settings):
    """The CPU plugin keeps the kernels it made for each input shape; unbounded, a process scoring batches of new
    shapes (a service, a long session) grew by about 12 MB a call in int8 (explorer.inference.openvino_backend)."""
    import random

    # the session's kept graphs: the int8 graph the default path made earlier in this file is read back
    loaded = fresh_reranker(BF16, compiled_dir=settings.cache_dir / "compiled", int8=True)
    texts = [doc.full_text for doc in sample.documents]
    shapes = random.Random(3)

    def calls(count: int) -> None:
        for number in range(count):
            chosen = shapes.sample(texts, shapes.randint(1, 24))
            score_pairs(loaded, f"query {number}", [text[:shapes.randint(20, 1500)] for text in chosen], cache=None)

    calls(40)  # the first shapes, and whatever the runtime sets up once
    settled = _resident_mb()
    calls(80)
    # unbounded, 80 more calls of new shapes added about 900 MB here; bounded, a few tens
    assert _resident_mb() - settled < 250

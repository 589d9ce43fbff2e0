"""The rerank benchmark's peers (explorer.bench.peers): agreement worked out by hand, the reasons given for a backend
that cannot run, the timing on made-up scorers, and one real run on two tiny cases."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from explorer.bench.corpus import RerankCase
from explorer.bench.peers import (
    NAIVE, ST_PEERS, StPeer, agreement, backend_unavailable, bench_peers, onnx_int8_target, time_peers,
)
from explorer.bench.report import PeerFigures
from explorer.errors import ConfigError
from tests.cache_support import cache_sharing_models

ONNX = ST_PEERS[0]


def test_agreement_of_a_list_with_itself_is_perfect():
    scores = np.array([0.3, 2.0, -1.0, 5.0])
    assert agreement(scores, scores) == (pytest.approx(1.0), 1.0)


def test_agreement_by_hand():
    # ranks 1 2 3 4 against 1 2 4 3: d^2 sums to 2, rho = 1 - 6*2 / (4*15) = 0.8; top 2 are {0, 1} in both
    reference, other = np.array([4.0, 3.0, 2.0, 1.0]), np.array([4.0, 3.0, 1.0, 2.0])
    rho, overlap = agreement(reference, other, k=2)
    assert rho == pytest.approx(0.8)
    assert overlap == 1.0
    # top 3: {0, 1, 2} against {0, 1, 3}, two of three shared
    assert agreement(reference, other, k=3)[1] == pytest.approx(2 / 3)


def test_reversed_order_disagrees_completely():
    reference = np.arange(20, dtype=float)
    rho, overlap = agreement(reference, -reference)
    assert rho == pytest.approx(-1.0)
    assert overlap == 0.0  # top 10 of one are the bottom 10 of the other


def test_fewer_candidates_than_k_compares_them_all():
    assert agreement(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]), k=10)[1] == 1.0


def test_a_constant_list_ranks_nothing():
    assert agreement(np.array([1.0, 2.0, 3.0]), np.array([7.0, 7.0, 7.0]))[0] == 0.0


@pytest.mark.parametrize("other", [np.array([1.0, 2.0]), np.array([]), np.ones((3, 1))])
def test_agreement_refuses_lists_that_do_not_match(other):
    with pytest.raises(ConfigError, match="same length"):
        agreement(np.array([1.0, 2.0, 3.0]), other)


def test_a_missing_optimum_says_how_to_install_it_and_that_it_would_not_install_beside_the_pins():
    reason = backend_unavailable(ONNX, missing=("optimum",), transformers_version="5.23.0")
    assert reason is not None
    assert reason.startswith("optimum.onnxruntime is not installed: pip install 'sentence-transformers[onnx]'")
    assert "optimum-onnx 0.1.0" in reason and "needs transformers<4.58" in reason and "5.23.0 is pinned" in reason


def test_with_a_transformers_optimum_accepts_the_reason_is_only_the_install_command():
    reason = backend_unavailable(ONNX, missing=("optimum.onnxruntime",), transformers_version="4.50.0")
    assert reason == ("optimum.onnxruntime is not installed: pip install 'sentence-transformers[onnx]' "
                      "(optimum-onnx[onnxruntime])")


def test_openvino_peers_name_optimum_intel():
    static = next(peer for peer in ST_PEERS if peer.int8 == "static")
    reason = backend_unavailable(static, missing=("optimum",), transformers_version="5.23.0")
    assert reason is not None and "sentence-transformers[openvino]" in reason and "optimum-intel 2.2.0" in reason


def test_a_peer_whose_modules_import_can_run():
    assert backend_unavailable(StPeer("made up", "onnx", "", ("json", "csv"))) is None


def test_the_first_missing_module_is_named_and_the_transformers_note_is_for_optimum_only():
    reason = backend_unavailable(StPeer("made up", "onnx", "", ("json", "csv")), missing=("csv",),
                                 transformers_version="5.23.0")
    assert reason == "csv is not installed: pip install 'sentence-transformers[onnx]' (optimum-onnx[onnxruntime])"


def test_an_installed_module_that_does_not_import_is_told_apart_from_a_missing_one(tmp_path, monkeypatch):
    (tmp_path / "peer_dep_too_new.py").write_text("raise ImportError(\"cannot import name 'is_tf_available'\")\n")
    (tmp_path / "peer_dep_needs_more.py").write_text("import peer_dep_nowhere_to_be_found\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    too_new = backend_unavailable(StPeer("made up", "onnx", "", ("peer_dep_too_new",)))
    assert too_new is not None and too_new.startswith(
        "peer_dep_too_new is installed but does not import here (ImportError: cannot import name 'is_tf_available')")
    needs_more = backend_unavailable(StPeer("made up", "onnx", "", ("peer_dep_needs_more",)))
    assert needs_more is not None and "peer_dep_needs_more is installed but does not import here" in needs_more


@pytest.mark.parametrize(("flags", "machine", "target"), [
    ({"avx2", "avx512f", "avx512_vnni"}, "x86_64", "avx512_vnni"), ({"avx2", "avx512f"}, "x86_64", "avx512"),
    ({"avx2"}, "x86_64", "avx2"), (set(), "aarch64", "arm64")])
def test_onnx_int8_target_is_the_best_the_cpu_has(flags, machine, target):
    assert onnx_int8_target(flags, machine) == target


def test_onnx_int8_target_refuses_a_cpu_without_any():
    with pytest.raises(ConfigError, match="needs AVX2"):
        onnx_int8_target({"sse4_2"}, "x86_64")


CASES = [RerankCase("made up", "q1", tuple(f"text {i}" for i in range(12))),
         RerankCase("made up", "q2", tuple(f"other {i}" for i in range(12)))]


def test_time_peers_alternates_and_compares_with_the_reference():
    calls: list[str] = []
    reference = [np.arange(12, dtype=float)[::-1], np.arange(12, dtype=float)]

    def scorer(name, flip):
        def score(case):
            calls.append(f"{name}:{case.query}")
            expected = reference[CASES.index(case)]
            return -expected if flip else expected
        return score

    figures = time_peers(CASES, reference, {NAIVE: scorer("naive", False), "flipped": scorer("flipped", True)},
                         repeats=2)
    assert calls == ["naive:q1", "flipped:q1", "naive:q2", "flipped:q2"] * 2
    assert figures[NAIVE].spearman_min == pytest.approx(1.0) and figures[NAIVE].top10_overlap == 1.0
    assert figures["flipped"].spearman_min == pytest.approx(-1.0)
    assert figures["flipped"].top10_overlap == pytest.approx(8 / 10)  # 12 candidates: the two tops share 8 of 10
    assert figures[NAIVE].speedup_vs_naive == pytest.approx(1.0)
    assert all(f.median_ms > 0 for f in figures.values())


def test_time_peers_needs_the_naive_peer_and_a_reference_per_case():
    with pytest.raises(ConfigError, match="naive torch fp32"):
        time_peers(CASES, [np.zeros(12)] * 2, {"other": lambda case: np.zeros(12)}, repeats=1)
    with pytest.raises(ConfigError, match="one reference score list per case"):
        time_peers(CASES, [np.zeros(12)], {NAIVE: lambda case: np.zeros(12)}, repeats=1)


def test_time_peers_refuses_a_peer_that_drops_candidates():
    with pytest.raises(ConfigError, match="returned 3 scores for 12"):
        time_peers(CASES, [np.zeros(12)] * 2, {NAIVE: lambda case: np.zeros(3)}, repeats=1)


TEXTS = ("The wing lifts the aircraft.", "Boundary layers thicken downstream.", "Heat flows from hot to cold.",
         "Shock waves form at supersonic speed.", "A plate in a stream feels drag.", "Lift grows with angle.",
         "Turbulence mixes the flow.", "Pressure falls over the wing.", "Vortices trail from the tips.",
         "Skin friction rises with speed.")
TINY = [RerankCase("made up", "how does a wing make lift", TEXTS),
        RerankCase("made up", "drag of a flat plate", TEXTS[::-1])]


def _exact_engine(settings, tmp_path):
    # the forced fp32 path: the engine runs PyTorch exactly, so it must rank as the naive baseline does
    return replace(settings, cache_dir=cache_sharing_models(tmp_path / "cache"), engine_path="fp32", rerank_int8=False)


@pytest.mark.slow
def test_real_peers_on_two_tiny_cases(settings, cpu, tmp_path):
    """The naive baseline and the engine always run; a sentence-transformers backend that cannot run here says why
    (the reason the check gives), and one whose imports pass but whose export fails says that instead."""
    # its imports pass (json is everywhere), but sentence-transformers cannot load an ONNX model without Optimum
    no_optimum = StPeer("made up onnx", "onnx", "", ("json",))
    here = _exact_engine(settings, tmp_path)
    peers = bench_peers(here, cpu, TINY, repeats=1, st_peers=(*ST_PEERS, no_optimum))
    names = list(peers)
    assert names[:-1] == [NAIVE, *(peer.name for peer in ST_PEERS), no_optimum.name]
    assert names[-1].startswith("explorer engine (")
    for name in (NAIVE, names[-1]):
        figures = peers[name]
        assert isinstance(figures, PeerFigures)
        assert figures.median_ms > 0 and figures.spearman_min > 0.999 and figures.top10_overlap == 1.0
    for peer in ST_PEERS:
        reason = backend_unavailable(peer)
        assert peers[peer.name] == reason if reason is not None else isinstance(peers[peer.name], PeerFigures)
    if backend_unavailable(ONNX) is not None:
        assert str(peers[no_optimum.name]).startswith("could not be prepared here (Exception: Using the ONNX backend "
                                                      "requires installing Optimum")
    # the model was saved where the backends export from, once
    saved = next((here.cache_dir / "peers").glob("*/model"))
    assert (saved / "modules.json").is_file() and (saved.parent / "model.done").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("peer", ST_PEERS, ids=lambda peer: peer.name)
def test_a_sentence_transformers_backend_ranks_as_fp32(settings, cpu, tmp_path, peer):
    reason = backend_unavailable(peer)
    if reason is not None:
        pytest.skip(f"{peer.name} cannot run here: {reason}")
    peers = bench_peers(_exact_engine(settings, tmp_path), cpu, TINY, repeats=1, st_peers=(peer,))
    figures = peers[peer.name]
    assert isinstance(figures, PeerFigures), figures
    assert figures.spearman_min > (0.9 if peer.int8 else 0.999)


def test_the_report_json_carries_figures_as_the_documented_keys_and_a_reason_as_text():
    from explorer.bench.report import BenchReport, EmbedBench, EndToEndBench, IndexBench, RerankBench, Timing

    timing = Timing(1.0, 1.0, 1)
    rerank = RerankBench(10, 1, 5.0, 0, timing, timing, "engine", "", 0.0, 1.0, 1.0, 1.0, 1.0)
    embed = EmbedBench(1, 5.0, timing, timing, "engine", 1.0, 1.0, 1.0)
    e2e = EndToEndBench(1, 10, 1, timing, {}, 0, "bi", "re", "engine", "exact", 0.0, False)
    index = IndexBench(1, 1.0, 1.0, 0.0, 10, 1.0, 1.0, "exact")
    peers = {NAIVE: PeerFigures(100.0, 1.0, 1.0, 1.0), ONNX.name: "optimum is not installed"}
    report = json.loads(json.dumps(BenchReport({}, {}, rerank, embed, e2e, index, {}, peers).to_json()))
    assert report["peers"] == {NAIVE: {"median_ms": 100.0, "speedup_vs_naive": 1.0, "spearman_min": 1.0,
                                       "top10_overlap": 1.0}, ONNX.name: "optimum is not installed"}

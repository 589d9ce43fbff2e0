"""The backend chosen by measurement: the arithmetic of the choice, how it is kept, the oneDNN ISA cap, and a real
engine on this CPU choosing between OpenVINO and PyTorch."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from explorer.inference import engine_choice
from explorer.inference.device import detect_accelerators, isa_cap_allows_bf16
from explorer.inference.engine_choice import Choice, fastest, keep_choice, kept_choice, measure, timing_batches


def test_the_fastest_candidate_wins_and_a_tie_goes_to_the_preferred_one():
    assert fastest({"openvino": 12.0, "torch": 9.5}, "openvino") == "torch"
    assert fastest({"openvino": 9.5, "torch": 9.5}, "torch") == "torch"
    assert fastest({"openvino int8": 7.0, "openvino": 9.0}, "openvino") == "openvino int8"
    with pytest.raises(ValueError, match="nothing to choose"):
        fastest({}, "torch")


def test_each_candidate_is_timed_by_its_median_with_runs_alternating():
    now = [0.0]
    order: list[str] = []
    costs = {"slow": [0.004, 0.003, 0.009, 0.003], "fast": [0.002, 0.001, 0.001, 0.005]}  # warm-up first

    def candidate(name):
        def run(batches):
            order.append(name)
            now[0] += costs[name].pop(0)
            return batches
        return run

    timings = measure({"slow": candidate("slow"), "fast": candidate("fast")}, [{}], clock=lambda: now[0])
    assert timings == {"slow": 3.0, "fast": 1.0}  # medians of (3, 9, 3) and (1, 1, 5) ms; the warm-up left out
    assert order == ["slow", "fast"] * 4


def test_a_choice_is_kept_and_read_back_only_for_the_same_candidates(tmp_path):
    choice = Choice("openvino", {"openvino": 10.0, "torch": 14.0}, measured_now=True)
    keep_choice(tmp_path, "key", choice)
    again = kept_choice(tmp_path, "key", {"openvino", "torch"})
    assert again == replace(choice, measured_now=False)
    assert "measured earlier" in again.note and "openvino 10 ms, torch 14 ms" in again.note
    assert kept_choice(tmp_path, "key", {"openvino", "openvino int8"}) is None  # another question
    assert kept_choice(tmp_path, "other key", {"openvino", "torch"}) is None
    (tmp_path / engine_choice.FILE).write_text("{torn", encoding="utf-8")
    assert kept_choice(tmp_path, "key", {"openvino", "torch"}) is None  # measured again, never trusted
    (tmp_path / engine_choice.FILE).write_text(json.dumps({"key": {"chosen": "tpu", "median_ms": {"openvino": 1,
                                                                                              "torch": 2}}}))
    assert kept_choice(tmp_path, "key", {"openvino", "torch"}) is None


@pytest.mark.parametrize(("cap", "allows"), [("", True), ("ALL", True), ("avx512_core_bf16", True),
                                              ("AVX512_CORE_AMX", True), ("AVX2", False), ("AVX512_CORE", False),
                                              ("avx512_core_vnni", False), ("SSE41", False)])
def test_a_onednn_isa_cap_below_the_bf16_units_turns_bf16_off(cap, allows):
    assert isa_cap_allows_bf16(cap) is allows


def test_imitating_an_avx2_cpu_leaves_no_bf16_units_to_choose():
    assert detect_accelerators({"ONEDNN_MAX_CPU_ISA": "AVX2"}).cpu_bf16 is False


@pytest.mark.parametrize(("precision", "rest", "cap", "hint"), [
    ("bf16", "bf16", "", "bf16"), ("fp32", "bf16", "", "f32"), ("int8", "bf16", "", "bf16"), ("int8", "fp32", "", "f32"),
    ("bf16", "bf16", "AVX2", "f32"), ("int8", "bf16", "AVX2", "f32"), ("int8", "bf16", "AVX512_CORE", "f32"),
    ("bf16", "bf16", "AVX512_CORE_AMX", "bf16")])
def test_openvino_is_asked_for_bf16_only_where_the_isa_cap_leaves_the_bf16_units(precision, rest, cap, hint):
    from explorer.inference.openvino_backend import precision_hint

    assert precision_hint(precision, rest, {"ONEDNN_MAX_CPU_ISA": cap}) == hint


@pytest.mark.slow
@pytest.mark.parametrize(("path", "label"), [("int8", "openvino · int8"), ("bf16", "openvino · fp32")])
def test_forced_paths_run_in_openvino_on_a_cpu_imitated_by_an_avx2_cap(path, label, tmp_path):
    """ONEDNN_MAX_CPU_ISA=AVX2 on a CPU with bf16 units: OpenVINO's plugin still sees the units, and a graph compiled
    for bf16 was refused by the capped kernels (the engine fell back to PyTorch); it must compute in fp32 instead,
    as on a CPU really without them. (On an AVX2-only CPU this passes without the cap doing anything.)"""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from explorer.inference.openvino_backend import int8_unavailable_reason, unavailable_reason
    from tests.cache_support import cache_sharing_models

    reason = unavailable_reason() or (int8_unavailable_reason() if path == "int8" else None)
    if reason is not None:
        pytest.skip(reason)
    # PYTHONFAULTHANDLER: a process still running after 300 s is sent SIGABRT and prints where each thread stood
    env = {**os.environ, "EXPLORER_CACHE_DIR": str(cache_sharing_models(tmp_path / "cache")),
           "EXPLORER_ENGINE": path, "ONEDNN_MAX_CPU_ISA": "AVX2", "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen([sys.executable, "-m", "explorer", "search", "vpn drops every few minutes", "--depth",
                                "5", "--json"], cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        out, err = process.communicate(timeout=60)
        start = err.find("Fatal Python error")  # faulthandler's dump goes first in the message: a long log is cut
        threads = err[start:start + 3000] if start >= 0 else err[-3000:]
        pytest.fail(f"the search had not ended after 300 s; its threads: {threads}; its answer: {out[-300:]!r}")
    assert process.returncode == 0, err[-2000:]
    assert f"reranker engine: {label}" in err, err[-2000:]
    assert len(json.loads(out)["reranked"]) == 5


def test_timing_batches_are_full_rows_of_the_examples_tokens():
    import torch

    example = {"input_ids": torch.tensor([[101, 7, 8, 9, 102], [101, 5, 102, 0, 0]]),
               "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
               "token_type_ids": torch.zeros(2, 5, dtype=torch.long)}
    batches = timing_batches(example)
    assert len(batches) == engine_choice.BATCHES
    first = batches[0]
    assert first["input_ids"].shape == (engine_choice.ROWS, engine_choice.LENGTH)
    assert first["input_ids"][0, :6].tolist() == [101, 7, 8, 9, 102, 101]
    assert bool(first["attention_mask"].all()) and set(first) == set(example)


def test_a_loaded_model_on_a_cpu_without_bf16_runs_on_the_backend_that_measured_faster(settings, tmp_path):
    """The bi-encoder as the app loads it on an fp32 CPU: OpenVINO and PyTorch are timed once, the faster one
    runs, and a second load on this machine reads the choice back instead of timing again."""
    from sentence_transformers import SentenceTransformer

    from explorer.inference.device import DeviceChoice
    from explorer.inference.openvino_backend import unavailable_reason
    from explorer.models.info import ModelInfo
    from explorer.models.packaged import packaged_encoder_path
    from explorer.models.resolution import with_engine
    from tests.cache_support import cache_sharing_models

    if unavailable_reason() is not None:
        pytest.skip(unavailable_reason())
    auto = replace(settings, engine_path="auto", cache_dir=cache_sharing_models(tmp_path / "cache"))
    (tmp_path / "cache" / "compiled").unlink()  # a choice of its own, converted graphs of its own
    fp32 = DeviceChoice("cpu", "fp32", "an AVX2-only CPU, imitated")
    info = ModelInfo("packaged", "all-MiniLM-L6-v2", "packaged", "")

    def load():
        model = SentenceTransformer(str(packaged_encoder_path()), device="cpu", local_files_only=True)
        return with_engine(model, info, fp32, auto)

    ran = load().engine.info()
    kept = json.loads((auto.cache_dir / "compiled" / engine_choice.FILE).read_text(encoding="utf-8"))
    (entry,) = kept.values()
    assert set(entry["median_ms"]) == {"openvino", "torch"} and all(ms > 0 for ms in entry["median_ms"].values())
    assert ran.backend == entry["chosen"] == min(entry["median_ms"], key=entry["median_ms"].get)
    assert ran.precision == "fp32" and "measured now" in ran.note
    again = load().engine.info()
    assert again.backend == ran.backend and "measured earlier" in again.note


def test_a_forced_fp32_path_is_pytorch_exactly_whatever_was_measured(settings, tmp_path):
    from explorer.models.resolution import engine_config

    forced = engine_config(replace(settings, engine_path="fp32", cache_dir=tmp_path), int8=False)
    assert (forced.backend, forced.measure) == ("torch", False)
    assert engine_config(replace(settings, engine_path="auto", cache_dir=tmp_path), int8=True).measure

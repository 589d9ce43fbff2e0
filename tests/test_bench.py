"""`python -m explorer bench --quick` runs every measurement and writes the documented JSON (no speed asserted)."""

from __future__ import annotations

import json

import pytest

from explorer.bench.report import Timing
from explorer.bench.run import BenchConfig
from explorer.cli import main
from explorer.errors import ConfigError


def test_timing_median_and_p95():
    timing = Timing.of([0.1, 0.2, 0.3, 0.4, 1.0])
    assert timing.median_ms == pytest.approx(300.0)
    assert timing.p95_ms == pytest.approx(880.0)  # numpy's linear interpolation: 400 + 0.8 * 600
    assert timing.runs == 5


def test_top10_overlap_needs_ten_candidates():
    with pytest.raises(ConfigError, match="at least 10 candidates"):
        BenchConfig(depth=5)


@pytest.mark.slow
def test_quick_bench_writes_the_documented_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"baseline_ms", "engine_ms", "speedup", "spearman", "top10_overlap"} <= set(report["rerank"])
    assert {"baseline_ms", "engine_ms", "speedup", "min_cosine"} <= set(report["embed"])
    assert {"cpu", "cores", "torch", "precision", "onednn_max_cpu_isa"} <= set(report["machine"])
    assert isinstance(report["rerank"]["details"]["kernel_isas"], dict)
    assert report["end_to_end"]["details"]["score_cache_hits"] == 0  # unseen queries: the cache cannot help
    assert 0.0 <= report["rerank"]["top10_overlap"] <= 1.0 and -1.0 <= report["rerank"]["spearman"] <= 1.0
    assert 0.0 <= report["index"]["recall"] <= 1.0
    assert set(report["goals"]) == {"rerank_5x", "rerank_faithful", "embed_2x", "embed_faithful",
                                    "end_to_end_under_600ms"}
    assert "rerank" in capsys.readouterr().out


def test_end_to_end_with_a_cascade_times_the_same_queries_through_it(settings, cpu, sample):
    """With a small reranker, the end-to-end queries run again through a cascade (scored afresh), and the report
    says which model read what."""
    from explorer.bench.measure import bench_end_to_end
    from explorer.inference.device import DeviceChoice
    from explorer.inference.engine import InferenceEngine
    from explorer.models.info import LoadedModel, ModelInfo
    from explorer.models.packaged import build_packaged_reranker

    fp32 = DeviceChoice("cpu", "fp32", "test")
    model = build_packaged_reranker(fp32)
    small = LoadedModel(model, ModelInfo("packaged", "packaged MiniLM-L6 cross-encoder", "packaged", ""), fp32,
                        engine=InferenceEngine(model, fp32))
    end_to_end, _ = bench_end_to_end(settings, cpu, [sample], corpus_size=300, depth=16, queries=2,
                                     cascade_small=small, cascade_keep=4, cascade_window=64)
    assert end_to_end.cascade_total is not None and end_to_end.cascade_total.median_ms > 0
    assert (end_to_end.cascade_keep, end_to_end.cascade_window) == (4, 64)
    assert end_to_end.cascade_small == small.info.loaded
    assert end_to_end.cascade_stages_median_ms["reranking"] > 0

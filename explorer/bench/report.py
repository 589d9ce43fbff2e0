"""What the benchmark found: one frozen record per measurement, the whole report as JSON, and the machine.

The report names the machine and its load average before and after, because a median measured on a busy
machine means something else than one measured on an idle one.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from explorer.inference.device import DeviceChoice


@dataclass(frozen=True)
class Timing:
    """The median and 95th percentile of repeated runs of one measurement, in milliseconds."""

    median_ms: float
    p95_ms: float
    runs: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> "Timing":
        """The timing of runs that took ``seconds`` each."""
        values = np.asarray(seconds, dtype=np.float64) * 1000
        return cls(float(np.median(values)), float(np.percentile(values, 95)), len(values))


@dataclass(frozen=True)
class RerankBench:
    """The reranking engine against ``CrossEncoder.predict`` in fp32: speed, and agreement with the fp32 scores."""

    pairs_per_query: int
    queries: int
    mean_tokens: float
    truncated: int
    baseline: Timing
    engine: Timing
    engine_label: str
    engine_note: str
    engine_prepare_s: float  # first call: conversion (or reading it back) and compilation
    speedup: float
    spearman: float  # the lowest over the queries
    spearman_mean: float
    top10_overlap: float  # the lowest over the queries, as a share of 10
    # the engine run other ways, same pairs: label -> {"median_ms", "p95_ms", "spearman", "top10_overlap"}
    alternatives: dict[str, dict[str, float]] = field(default_factory=dict)
    # on OpenVINO: operations per instruction set of the engine's kernels (where a ONEDNN_MAX_CPU_ISA cap shows)
    kernel_isas: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PeerFigures:
    """One peer of the rerank benchmark (``explorer.bench.peers``), timed beside the others on the same pairs: its
    median per query, the naive fp32 baseline's median over it, and its lowest agreement with the fp32 scores."""

    median_ms: float
    speedup_vs_naive: float
    spearman_min: float  # the lowest over the queries
    top10_overlap: float  # the lowest over the queries, as a share of 10


@dataclass(frozen=True)
class EmbedBench:
    """The embedding engine against ``SentenceTransformer.encode`` in fp32: speed, and cosine with the fp32 vectors."""

    documents: int
    mean_tokens: float
    baseline: Timing
    engine: Timing
    engine_label: str
    speedup: float
    min_cosine: float
    mean_cosine: float


@dataclass(frozen=True)
class IndexBench:
    """Exact against HNSW search on the end-to-end corpus: time per query, build time, and HNSW's recall."""

    vectors: int
    exact_ms: float  # median per query
    hnsw_ms: float
    hnsw_build_s: float
    k: int
    recall: float  # HNSW recall@k against exact, on the benchmark's queries
    recall_worst: float
    description: str


@dataclass(frozen=True)
class EndToEndBench:
    """Warm, unseen queries through every stage of the app's default pipeline: total and per-stage times."""

    documents: int
    depth: int
    queries: int
    total: Timing
    stages_median_ms: dict[str, float]
    score_cache_hits: int
    bi_encoder: str
    reranker: str
    reranker_engine: str
    index: str
    index_build_s: float
    index_from_cache: bool
    # the same queries with a cascade (explorer.rerank.cascade): the small reranker, M, the window, and the times
    cascade_small: str = ""
    cascade_keep: int = 0
    cascade_window: int | None = None
    cascade_total: Timing | None = None
    cascade_stages_median_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchReport:
    """Every measurement of one benchmark run, with the machine, the configuration and which goals were met."""

    machine: dict[str, Any]
    config: dict[str, Any]
    rerank: RerankBench
    embed: EmbedBench
    end_to_end: EndToEndBench
    index: IndexBench
    goals: dict[str, bool] = field(default_factory=dict)
    # the rerank peers by name: their figures, or why one could not run here; empty when not measured
    peers: dict[str, PeerFigures | str] = field(default_factory=dict)
    # the cascade benchmark (explorer.bench.cascade) by data set, as its to_json gives it; empty when not measured
    cascade: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The documented keys (medians in ms) first, every detail after them."""
        rerank, embed, e2e = self.rerank, self.embed, self.end_to_end
        return {
            "machine": self.machine,
            "rerank": {
                "baseline_ms": rerank.baseline.median_ms, "engine_ms": rerank.engine.median_ms,
                "speedup": rerank.speedup, "spearman": rerank.spearman, "top10_overlap": rerank.top10_overlap,
                "baseline_p95_ms": rerank.baseline.p95_ms, "engine_p95_ms": rerank.engine.p95_ms,
                "baseline_pairs_per_s": _rate(rerank.pairs_per_query, rerank.baseline),
                "engine_pairs_per_s": _rate(rerank.pairs_per_query, rerank.engine),
                "details": asdict(rerank),
            },
            "embed": {
                "baseline_ms": embed.baseline.median_ms, "engine_ms": embed.engine.median_ms,
                "speedup": embed.speedup, "min_cosine": embed.min_cosine,
                "baseline_p95_ms": embed.baseline.p95_ms, "engine_p95_ms": embed.engine.p95_ms,
                "baseline_docs_per_s": _rate(embed.documents, embed.baseline),
                "engine_docs_per_s": _rate(embed.documents, embed.engine),
                "details": asdict(embed),
            },
            "end_to_end": {"median_ms": e2e.total.median_ms, "p95_ms": e2e.total.p95_ms, "details": asdict(e2e),
                           **({"cascade": {"median_ms": e2e.cascade_total.median_ms,
                                           "p95_ms": e2e.cascade_total.p95_ms, "small": e2e.cascade_small,
                                           "keep": e2e.cascade_keep, "window": e2e.cascade_window,
                                           "speedup": round(e2e.total.median_ms / max(e2e.cascade_total.median_ms,
                                                                                      1e-9), 2)}}
                              if e2e.cascade_total is not None else {})},
            "index": asdict(self.index),
            "peers": {name: asdict(peer) if isinstance(peer, PeerFigures) else peer
                      for name, peer in self.peers.items()},
            "cascade": cascade_json(self.cascade),
            "goals": self.goals,
            "config": self.config,
        }


def cascade_json(by_data: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report's ``cascade``: the first data set's figures at the top (``speedup``, ``ndcg_full``,
    ``ndcg_cascade``, ``pairs_read_by_main``, ...), every data set's under ``by_data``; {} when none ran."""
    if not by_data:
        return {}
    first = next(iter(by_data.values()))
    return {**first, "by_data": by_data}


def describe_machine(device: DeviceChoice, load_before: str) -> dict[str, Any]:
    """The CPU, its flags, the library versions, the device and the load average before and after the run."""
    import torch

    from explorer.inference.openvino_backend import unavailable_reason

    openvino = None
    if unavailable_reason() is None:
        import openvino as ov

        openvino = ov.__version__
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "openvino": openvino, "python": platform.python_version(), "device": device.label, "precision": device.precision,
        "cpu_flags": _cpu_flags(), "load_average_before": load_before, "load_average_after": load_average(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages as text, or "unknown" where the system does not say."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _rate(items: int, timing: Timing) -> float:
    return items / (timing.median_ms / 1000) if timing.median_ms > 0 else float("inf")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: platform.processor() below is the best there is
    return platform.processor() or "unknown"


def _cpu_flags() -> list[str]:
    # only the instruction sets that decide which engine path is fast here
    wanted = ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile", "avx2")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = set(handle.read().split())
    except OSError:
        return []
    return [flag for flag in wanted if flag in flags]

"""``python -m explorer bench``: the speed report, printed, and as JSON on request."""

from __future__ import annotations

import argparse

from explorer.cli.output import emit, say, write_json
from explorer.errors import ConfigError
from explorer.settings import Settings


def bench(args: argparse.Namespace) -> int:
    """Runs the benchmark and prints one line per measurement (and the JSON report with --json)."""
    from dataclasses import replace
    from pathlib import Path

    from explorer.bench.run import BenchConfig, run_benchmark

    settings = Settings.from_env()
    sizes = {name: value for name, value in (("depth", args.depth), ("corpus_size", args.corpus_size),
                                             ("repeats", args.repeats)) if value is not None}
    where = {"device": args.device, "sample": Path(args.data),
             "extra_data": Path(args.extra_data).expanduser() if args.extra_data else settings.bench_data}
    config = BenchConfig.quick(**where, **sizes) if args.quick else BenchConfig(**where, **sizes)
    if args.cascade_small:
        config = replace(config, cascade_small=args.cascade_small, cascade_end_to_end_keep=args.cascade_keep,
                         cascade_window=args.cascade_window)
    report = run_benchmark(config, settings, say=say).to_json()
    rerank, embed, e2e, machine = report["rerank"], report["embed"], report["end_to_end"], report["machine"]
    emit(f"machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}, "
          f"openvino {machine['openvino'] or 'not used'}, {machine['device']}; load average "
          f"{machine['load_average_before']} (before) / {machine['load_average_after']} (after)")
    emit(f"rerank {rerank['details']['pairs_per_query']} pairs: baseline {rerank['baseline_ms']:.0f} ms "
          f"(p95 {rerank['baseline_p95_ms']:.0f}), engine {rerank['engine_ms']:.0f} ms (p95 {rerank['engine_p95_ms']:.0f}, "
          f"{rerank['details']['engine_label']}): {rerank['speedup']:.2f}x, Spearman {rerank['spearman']:.4f}, "
          f"top-10 overlap {rerank['top10_overlap']:.2f}")
    kernels = rerank["details"].get("kernel_isas") or {}
    cap = machine.get("onednn_max_cpu_isa") or "none"
    if kernels:
        emit("  engine kernels by instruction set: " + ", ".join(f"{isa} {n}" for isa, n in kernels.items())
             + f" (ONEDNN_MAX_CPU_ISA: {cap})")
    for label, other in rerank["details"]["alternatives"].items():
        emit(f"  the engine as {label}: {other['median_ms']:.0f} ms (p95 {other['p95_ms']:.0f}): "
              f"{other['speedup']:.2f}x, Spearman {other['spearman']:.4f}, top-10 overlap {other['top10_overlap']:.2f}")
    for name, peer in report["peers"].items():
        emit(f"  peer {name}: " + (f"{peer['median_ms']:.0f} ms, {peer['speedup_vs_naive']:.2f}x the naive, Spearman "
                                   f"{peer['spearman_min']:.4f}, top-10 overlap {peer['top10_overlap']:.2f}"
                                   if isinstance(peer, dict) else f"not run: {peer}"))
    emit(f"embed {embed['details']['documents']} documents: baseline {embed['baseline_ms']:.0f} ms, engine "
          f"{embed['engine_ms']:.0f} ms ({embed['details']['engine_label']}): {embed['speedup']:.2f}x, "
          f"min cosine {embed['min_cosine']:.5f}")
    emit(f"end to end, {e2e['details']['documents']} documents, k={e2e['details']['depth']}: median "
          f"{e2e['median_ms']:.0f} ms, p95 {e2e['p95_ms']:.0f} ms (" + ", ".join(
              f"{name} {ms:.0f}" for name, ms in e2e["details"]["stages_median_ms"].items()) + ")")
    if "cascade" in e2e:
        c = e2e["cascade"]
        emit(f"end to end with the cascade ({c['small']} on every candidate, the reranker on its top {c['keep']}"
             + (f", {c['window']}-token windows" if c["window"] else "") + f"): median {c['median_ms']:.0f} ms, "
             f"p95 {c['p95_ms']:.0f} ms ({c['speedup']:.2f}x the full rerank's median)")
    index = report["index"]
    emit(f"index: exact {index['exact_ms']:.2f} ms, HNSW {index['hnsw_ms']:.2f} ms per query, "
          f"HNSW recall@{index['k']} {index['recall']:.3f}")
    for name, figures in report["cascade"].get("by_data", {}).items():
        _emit_cascade(name, figures)
    emit("goals: " + ", ".join(f"{name} {'met' if met else 'NOT met'}" for name, met in report["goals"].items()))
    if args.json:
        write_json(report, args.json, "results")
    return 0


def bench_cascade(args: argparse.Namespace) -> int:
    """The cascade alone: on each data set, nDCG@10 and time of the full rerank and of the cascade at each M."""
    from pathlib import Path

    from explorer.bench.run import BenchConfig, run_cascade
    from explorer.bench.report import cascade_json

    try:
        keeps = tuple(int(k) for k in args.keeps.split(",") if k.strip())
    except ValueError:
        raise ConfigError(f"--keeps takes whole numbers separated by commas, e.g. 5,10,20; got {args.keeps!r}.") from None
    folders = [Path(args.data)] + ([Path(args.extra_data).expanduser()] if args.extra_data else [])
    config = BenchConfig(device=args.device, depth=args.depth, cascade_small=args.small, cascade_keeps=keeps,
                         cascade_window=args.window)
    by_data = run_cascade(config, Settings.from_env(), folders, say=say)
    for name, figures in by_data.items():
        _emit_cascade(name, figures)
    if args.json:
        write_json(cascade_json(by_data), args.json, "results")
    return 0


def _emit_cascade(name: str, figures: dict) -> None:
    emit(f"cascade on {name} ({figures['split']}, {figures['queries']} queries, depth {figures['depth']}): full "
         f"rerank nDCG@10 {figures['ndcg_full']:.4f} in {figures['full_ms'] / 1000:.1f} s; the small reranker "
         f"alone {figures['ndcg_small_alone']:.4f} in {figures['small_ms'] / 1000:.1f} s; first stage "
         f"{figures['ndcg_first_stage']:.4f}" + (f"; both rerankers read {figures['window']}-token windows"
                                                  if figures.get("window") else ""))
    if "ndcg_full_whole" in figures:
        emit(f"  reference: the full rerank reading whole documents, nDCG@10 {figures['ndcg_full_whole']:.4f} in "
             f"{figures['full_whole_ms'] / 1000:.1f} s")
    for point in figures["points"]:
        emit(f"  M={point['keep']}: nDCG@10 {point['ndcg']:.4f}, {point['ms'] / 1000:.1f} s, "
             f"{point['speedup']:.2f}x, {point['pairs_read_by_main']:,} pairs read by the main reranker")
    reference = figures.get("first_stage_top_m")
    if reference:
        emit("  without a small reranker, the main one on the first stage's own top M: " + ", ".join(
            f"M={p['keep']} {p['ndcg']:.4f} ({p['speedup']:.2f}x)" for p in reference["points"])
             + f"; best: M={reference['keep']}, {reference['speedup']:.2f}x at nDCG@10 {reference['ndcg']:.4f} ("
             + ("within" if reference["within_tolerance"] else "NOT within") + f" {figures['tolerance']})")
    verdict = "within" if figures["within_tolerance"] else "NOT within"
    emit(f"  chosen: M={figures['keep']}, {figures['speedup']:.2f}x at nDCG@10 {figures['ndcg_cascade']:.4f} "
         f"({verdict} {figures['tolerance']} of the full rerank)"
         + (f"; {figures['speedup_vs_whole']:.2f}x the full rerank of whole documents" if "speedup_vs_whole" in figures
            else ""))


def bench_sessions(args: argparse.Namespace) -> int:
    """Times concurrent sessions with shared model calls and side by side; prints both, and JSON on request."""
    from explorer.bench.sessions import bench_sessions as run_sessions
    from explorer.inference.device import choose_device

    report = run_sessions(Settings.from_env(), choose_device(args.device), args.sessions, args.depth, say=say)
    for run in report.runs:
        emit(f"{run.way}: {report.sessions} sessions at depth {report.depth}: median {run.median_s:.1f} s, "
              f"max {run.max_s:.1f} s, {run.model_calls} reranker calls ({report.engine})")
    if args.json:
        write_json(report.to_json(), args.json, "results")
    return 0


def bench_serve(args: argparse.Namespace) -> int:
    """Loads the service with many clients, with micro-batching and without; prints both, and JSON on request."""
    from pathlib import Path

    from explorer.bench.serve_load import LoadConfig, run_serve_load

    config = LoadConfig(args.clients, args.seconds, args.documents, args.budget_ms)
    ways = {"both": ("micro-batching", "one call per request"), "batched": ("micro-batching",),
            "unbatched": ("one call per request",)}[args.ways]
    report = run_serve_load(Path(args.pipeline), config, say, ways)
    for run in report.runs:
        figures = run.summary()
        memory = figures["memory_mb"]
        emit(f"{run.way}: {figures['requests']} requests ({figures['statuses']}), {figures['fallbacks']} fallbacks, "
              f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, {figures['requests_per_s']} requests/s, "
              f"{figures['pairs_per_s']} pairs/s, {figures['model_calls']} model calls, server memory (MB) at the start, "
              f"a quarter, half way and the end: {memory['first']}, {memory['at_one_quarter']}, {memory['at_half']}, "
              f"{memory['last']} (max {memory['max']})")
    if args.json:
        write_json(report.to_json(), args.json, "results")
    return 0


def bench_scale(args: argparse.Namespace) -> int:
    """FAISS HNSW and milvus-lite on many vectors made from real embeddings; prints one line per backend."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from explorer.bench.first_stage_scale import ScaleConfig, run_scale_bench
    from explorer.inference.device import choose_device
    from explorer.loading import load_beir
    from explorer.models.resolution import load_bi_encoder
    from explorer.retrieval.embedding import embed_corpus, encode_texts
    from explorer.retrieval.embedding_cache import EmbeddingCache
    from explorer.retrieval.passages import PassageOptions, split_documents
    from explorer.settings import DEFAULT_BI_ENCODER

    settings = Settings.from_env()
    bi_encoder = load_bi_encoder(DEFAULT_BI_ENCODER, choose_device(args.device), settings)
    folders = [Path(args.data)] + ([Path(args.extra_data).expanduser()] if args.extra_data else [])
    texts, questions = [], []
    for folder in folders:
        data = load_beir(folder)
        texts += [p.text for p in split_documents(data.documents, bi_encoder.model.tokenizer, PassageOptions(128, 32))]
        questions += [q.text for q in data.labelled_queries()]
    base = embed_corpus(bi_encoder, texts, EmbeddingCache(settings.cache_dir / "embeddings"), options="scale").vectors
    query_base = encode_texts(bi_encoder, [bi_encoder.info.query_prefix + q for q in questions])
    say(f"base: {len(base):,} passage embeddings and {len(query_base)} query embeddings from "
        + ", ".join(str(f) for f in folders))
    config = ScaleConfig(vectors=args.vectors, queries=args.queries, k=args.k, noise=args.noise,
                         milvus_queries=args.milvus_queries, backends=tuple(args.backends))
    with tempfile.TemporaryDirectory(prefix="explorer-scale-") as workdir:
        report = run_scale_bench(np.asarray(base), np.asarray(query_base), config, Path(workdir), say)
    for row in report["results"]:
        emit(f"{row['backend']} ({row['index']}): build {row['build_s']:.0f} s, "
              f"memory +{row['memory_added_gb']:.2f} GB, "
              f"p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms at k={config.k}, recall@{config.k} "
              f"{row['recall']:.3f} over {row['queries']} queries (worst: query {row['worst_query']}, "
              f"{row['worst_recall']:.2f} with {row['worst_query_hits']} hits)")
    if args.json:
        write_json(report, args.json, "results")
    return 0

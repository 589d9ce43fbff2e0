"""The benchmark's measurements: reranking, embedding, a whole search, and the first-stage index.

Each function takes what it measures (pairs, texts, sources) and how often to repeat, and returns one record of
``explorer.bench.report``. Baseline and engine runs alternate, so load from other processes falls on both alike.
Heavy libraries are imported inside the functions that use them.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from explorer.bench.corpus import RerankCase, chunk_corpus
from explorer.bench.report import EmbedBench, EndToEndBench, IndexBench, RerankBench, Timing
from explorer.errors import ConfigError
from explorer.inference.device import DeviceChoice
from explorer.records import Dataset
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, Settings

Say = Callable[[str], None]


def _quiet(text: str) -> None:
    """Says nothing: the default when no one reads the progress lines."""


def bench_rerank(settings: Settings, device: DeviceChoice, cases: Sequence[RerankCase], *, repeats: int,
                 compare_alternatives: bool, say: Say = _quiet) -> RerankBench:
    """Time per query and agreement with fp32 of the engine's reranking against ``CrossEncoder.predict``."""
    import copy

    import torch
    from scipy.stats import spearmanr

    from explorer.inference.backends import EngineConfig
    from explorer.inference.engine import InferenceEngine
    from explorer.models.info import LoadedModel, ModelInfo
    from explorer.models.packaged import build_packaged_reranker
    from explorer.models.resolution import engine_config
    from explorer.rerank.scoring import score_pairs

    if not cases:
        raise ConfigError("The rerank benchmark needs at least one query with its candidates; give it some.")
    depth = len(cases[0].texts)
    fp32 = DeviceChoice("cpu", "fp32", "the naive baseline")
    model = build_packaged_reranker(fp32)
    info = ModelInfo("packaged", "packaged MiniLM-L6 cross-encoder", "packaged", "", fingerprint="bench-reranker")
    compiled = settings.cache_dir / "compiled"
    # The engine as the app runs rerankers here, then the same weights run the engine's other ways.
    as_app_runs = engine_config(settings, settings.rerank_int8)
    engine = LoadedModel(model, info, device, engine=InferenceEngine(model, device, as_app_runs))
    others: list[LoadedModel] = []
    if compare_alternatives and device.device == "cpu":
        for other in (EngineConfig(compiled_dir=compiled), EngineConfig(backend="torch")):
            twin = copy.deepcopy(model)
            others.append(LoadedModel(twin, info, device, engine=InferenceEngine(twin, device, other)))
    tokens = [len(ids) for case in cases
              for ids in model.tokenizer([case.query] * len(case.texts), list(case.texts), truncation=True,
                                         max_length=model.max_seq_length)["input_ids"]]
    say(f"rerank: {len(cases)} queries x {depth} candidates, {np.mean(tokens):.0f} tokens per pair on average")

    def baseline(case: RerankCase) -> np.ndarray:
        return np.asarray(model.predict([(case.query, text) for text in case.texts], batch_size=32,
                                        activation_fn=torch.nn.Identity(), show_progress_bar=False), dtype=np.float32)

    started = time.perf_counter()
    score_pairs(engine, cases[0].query, cases[0].texts[:4], cache=None)
    prepare_s = time.perf_counter() - started
    label = engine.engine.info()
    say(f"rerank engine: {label.label} ({label.note}); ready in {prepare_s:.1f} s")
    baseline(RerankCase("", cases[0].query, cases[0].texts[:4]))
    labels = []
    for other in others:
        score_pairs(other, cases[0].query, cases[0].texts[:4], cache=None)
        labels.append(other.engine.info().label)
    runs: list[list[float]] = [[] for _ in range(2 + len(others))]  # baseline, engine, then each alternative
    agreement: list[list[tuple[float, float]]] = [[] for _ in range(1 + len(others))]
    truncated = 0
    for repeat in range(repeats):
        for number, case in enumerate(cases, start=1):
            reference, seconds = _timed(lambda: baseline(case))
            runs[0].append(seconds)
            for position, scorer in enumerate([engine, *others]):
                fast, seconds = _timed(lambda: score_pairs(scorer, case.query, case.texts, cache=None))
                runs[position + 1].append(seconds)
                if repeat == 0:
                    agreement[position].append((float(spearmanr(reference, fast.raw)[0]),
                                                _top_overlap(reference, fast.raw, 10)))
                    truncated += fast.truncated if position == 0 else 0
            say(f"rerank {repeat * len(cases) + number}/{repeats * len(cases)}: baseline {runs[0][-1] * 1000:.0f} ms, "
                f"engine {runs[1][-1] * 1000:.0f} ms"
                + "".join(f", {name} {times[-1] * 1000:.0f} ms" for name, times in zip(labels, runs[2:])))
    base_t, engine_t = Timing.of(runs[0]), Timing.of(runs[1])
    alternatives = {}
    for name, times, agreed in zip(labels, runs[2:], agreement[1:]):
        timing = Timing.of(times)
        alternatives[name] = {"median_ms": timing.median_ms, "p95_ms": timing.p95_ms,
                              "speedup": base_t.median_ms / timing.median_ms,
                              "spearman": min(s for s, _ in agreed), "top10_overlap": min(o for _, o in agreed)}
    return RerankBench(
        pairs_per_query=depth, queries=len(cases), mean_tokens=float(np.mean(tokens)), truncated=truncated,
        baseline=base_t, engine=engine_t, engine_label=label.label, engine_note=label.note,
        engine_prepare_s=prepare_s, speedup=base_t.median_ms / engine_t.median_ms,
        spearman=min(s for s, _ in agreement[0]), spearman_mean=float(np.mean([s for s, _ in agreement[0]])),
        top10_overlap=min(o for _, o in agreement[0]), alternatives=alternatives,
        kernel_isas=engine_kernels(engine),
    )


def engine_kernels(loaded: Any) -> dict[str, int]:
    """Operations per instruction set of the kernels a loaded model's engine runs on OpenVINO ({} on PyTorch)."""
    first = loaded.engine.stages()[0] if loaded.engine.is_prepared else None
    return first.kernel_isas() if hasattr(first, "kernel_isas") else {}


def bench_embed(settings: Settings, device: DeviceChoice, texts: list[str], *, repeats: int,
                say: Say = _quiet) -> EmbedBench:
    """Time and cosine with fp32 of the engine's document embedding against ``SentenceTransformer.encode``."""
    from sentence_transformers import SentenceTransformer

    from explorer.inference.engine import InferenceEngine
    from explorer.models.info import LoadedModel, ModelInfo
    from explorer.models.packaged import packaged_encoder_path
    from explorer.models.resolution import engine_config
    from explorer.retrieval.embedding import encode_texts

    model = SentenceTransformer(str(packaged_encoder_path()), device="cpu", local_files_only=True)
    info = ModelInfo("packaged", "all-MiniLM-L6-v2", "packaged", "", fingerprint="bench-bi")
    engine = LoadedModel(model, info, device,
                         engine=InferenceEngine(model, device, engine_config(settings, int8=False)))
    tokens = [len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]]
    say(f"embed: {len(texts)} documents, {np.mean(tokens):.0f} tokens on average")

    def baseline() -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                       show_progress_bar=False), dtype=np.float32)

    encode_texts(engine, texts[:4])
    model.encode(texts[:4], batch_size=32, show_progress_bar=False)
    label = engine.engine.info().label
    base_s, engine_s = [], []
    reference = fast = None
    for repeat in range(1, repeats + 1):
        reference, seconds = _timed(baseline)
        base_s.append(seconds)
        fast, seconds = _timed(lambda: encode_texts(engine, texts))
        engine_s.append(seconds)
        say(f"embed {repeat}/{repeats}: baseline {base_s[-1]:.2f} s, engine {engine_s[-1]:.2f} s ({label})")
    if reference is None or fast is None:
        raise ConfigError("The embedding benchmark ran no repeat; repeats must be at least 1.")
    cosines = np.sum(reference * fast, axis=1) / (np.linalg.norm(reference, axis=1) * np.linalg.norm(fast, axis=1))
    base_t, engine_t = Timing.of(base_s), Timing.of(engine_s)
    return EmbedBench(len(texts), float(np.mean(tokens)), base_t, engine_t, label,
                      base_t.median_ms / engine_t.median_ms, float(cosines.min()), float(cosines.mean()))


def bench_end_to_end(settings: Settings, device: DeviceChoice, sources: Sequence[Dataset], *, corpus_size: int,
                     depth: int, queries: int, say: Say = _quiet, cascade_small: Any = None,
                     cascade_keep: int = 20, cascade_window: int | None = None) -> tuple[EndToEndBench, IndexBench]:
    """Latency of ``queries`` warm, unseen searches on ``corpus_size`` passages with the app's default models,
    and exact against HNSW search on the same vectors. With ``cascade_small``, each query also runs through a cascade
    (that small reranker, a LoadedModel, on every candidate, the default one on its top ``cascade_keep``; both reading the best
    ``cascade_window`` tokens of each text where given), scored afresh, right after the full rerank."""
    from explorer.models.resolution import load_bi_encoder, load_reranker
    from explorer.pipeline import RetrievalPipeline
    from explorer.rerank.score_cache import ScoreCache
    from explorer.retrieval.embedding import embed_corpus, encode_query
    from explorer.retrieval.embedding_cache import EmbeddingCache

    corpus = chunk_corpus(sources, corpus_size)
    bi = load_bi_encoder(DEFAULT_BI_ENCODER, device, settings)
    reranker = load_reranker(DEFAULT_RERANKER, device, settings)
    say(f"end to end: {len(corpus.documents)} passages; bi-encoder {bi.info.loaded}; reranker {reranker.info.loaded}")
    cache = EmbeddingCache(settings.cache_dir / "embeddings")

    def progress(done: int, total: int) -> None:
        if done == total or done % 1000 < 64:
            say(f"indexing {done}/{total}")

    scores = ScoreCache()
    pipeline = RetrievalPipeline.build(corpus, bi, reranker, cache, progress=progress).with_score_cache(scores)
    report = pipeline.index_report
    say(f"index: {report.index_description}, {'from cache' if report.from_cache else 'embedded'} in {report.seconds:.1f} s")
    texts = [query.text for query in corpus.queries.values()][: queries + 1]
    pipeline.search(texts[0], depth=depth)  # warm-up: first-call costs are not query latency
    scores.clear()
    total, stages_median = _timed_searches(pipeline, texts[1:], depth, "query", say)
    hits = scores.stats().hits
    cascaded: dict[str, Any] = {}
    if cascade_small:
        cascaded = _cascade_end_to_end(pipeline, cascade_small, texts, depth,
                                       cascade_keep, cascade_window, say)
    end_to_end = EndToEndBench(
        documents=len(corpus.documents), depth=depth, queries=len(texts) - 1, total=total,
        stages_median_ms=stages_median,
        score_cache_hits=hits, bi_encoder=bi.info.loaded, reranker=reranker.info.loaded,
        reranker_engine=reranker.engine.info().label,
        index=report.index_description, index_build_s=report.seconds, index_from_cache=report.from_cache, **cascaded)
    vectors = embed_corpus(bi, [d.full_text for d in corpus.documents], cache).vectors
    query_vectors = np.stack([encode_query(bi, text)[0] for text in texts[1:]])
    return end_to_end, bench_index(vectors, query_vectors, depth, say)


def _cascade_end_to_end(pipeline: Any, small: Any, texts: Sequence[str], depth: int, keep: int, window: int | None,
                        say: Say) -> dict[str, Any]:
    """The end-to-end queries again through a cascade, every pair scored afresh: EndToEndBench's cascade fields."""
    from explorer.rerank.windows import WindowOptions

    cascade = pipeline.uncached().with_cascade(small, keep).with_window(WindowOptions(window) if window else None)
    small.engine.settled()
    cascade.search(texts[0], depth=depth)  # warm-up, as for the full rerank
    total, stages_median = _timed_searches(cascade, texts[1:], depth, "cascade query", say)
    return {"cascade_small": small.info.loaded, "cascade_keep": keep, "cascade_window": window,
            "cascade_total": total, "cascade_stages_median_ms": stages_median}


def _timed_searches(pipeline: Any, texts: Sequence[str], depth: int, what: str,
                    say: Say) -> tuple[Timing, dict[str, float]]:
    """Each of ``texts`` searched once: the total time's Timing and each stage's median in milliseconds."""
    totals, stages = [], []
    for number, text in enumerate(texts, start=1):
        result = pipeline.search(text, depth=depth)
        totals.append(result.timings.total_ms / 1000)
        stages.append(result.timings.as_dict())
        say(f"{what} {number}/{len(texts)}: {result.timings.total_ms:.0f} ms "
            + ", ".join(f"{name} {ms:.0f}" for name, ms in result.timings.as_dict().items()))
    return Timing.of(totals), {name: float(np.median([s[name] for s in stages])) for name in stages[0]}


def bench_index(vectors: np.ndarray, queries: np.ndarray, k: int, say: Say = _quiet) -> IndexBench:
    """Time per query of exact and HNSW search over ``vectors``, HNSW's build time, and its recall@k against exact."""
    from explorer.retrieval.dense_index import DenseIndex, IndexOptions, exact_top_k, recall_at_k

    ids = [str(i) for i in range(len(vectors))]
    exact = DenseIndex(vectors, ids)
    started = time.perf_counter()
    hnsw = DenseIndex(vectors, ids, IndexOptions(hnsw_threshold=1))
    build_s = time.perf_counter() - started
    k = min(k, len(vectors))
    exact_s = [_timed(lambda: exact.search(row, k))[1] for row in queries]
    hnsw_s = [_timed(lambda: hnsw.search(row, k))[1] for row in queries]
    shares = recall_at_k(hnsw.search_rows(queries, k)[1], exact_top_k(vectors, queries, k))
    say(f"index: exact {np.median(exact_s) * 1000:.2f} ms, HNSW {np.median(hnsw_s) * 1000:.2f} ms per query, "
        f"HNSW recall@{k} {shares.mean():.3f}")
    return IndexBench(len(vectors), float(np.median(exact_s) * 1000), float(np.median(hnsw_s) * 1000), build_s, k,
                      float(shares.mean()), float(shares.min()), hnsw.description)


def _timed(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def _top_overlap(reference: np.ndarray, other: np.ndarray, k: int) -> float:
    return len(set(np.argsort(-reference)[:k]) & set(np.argsort(-other)[:k])) / k

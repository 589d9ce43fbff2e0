"""The first stage at scale (``python -m explorer bench-scale``; a command to run and report, not a CI test).

The vectors: real embeddings of the sample passages (and of ``--extra-data``, e.g. Cranfield, when given) made by
the packaged bi-encoder, then multiplied into ``vectors`` rows with seeded perturbations: each row mixes two real
embeddings (weights drawn uniformly) and adds Gaussian noise of ``noise`` per dimension, then is renormalised. The
queries: the real test queries' embeddings, and seeded perturbations of them up to ``queries``. Exact search
(FAISS IndexFlatIP over all rows) is the truth that recall@k is measured against.

Measured for each backend: build time, resident memory added, p50 / p95 latency of one query at ``k`` (one query
at a time, as the pipeline asks), and recall@k against exact, with the worst query's row and hit count. milvus-lite
(FLAT: every vector read per query) is timed on the first ``milvus_queries`` queries only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from explorer.retrieval.dense_index import DenseIndex, IndexOptions, exact_top_k, recall_at_k

Say = Callable[[str], None]


@dataclass(frozen=True)
class ScaleConfig:
    """Sizes and seeds of the scale benchmark."""

    vectors: int = 1_000_000
    queries: int = 200
    k: int = 100
    noise: float = 0.03  # per dimension, before renormalising (a unit vector's entries are about 0.05)
    seed: int = 0
    milvus_queries: int = 50  # milvus-lite's FLAT reads every vector per query: the first this many queries only
    backends: tuple[str, ...] = ("faiss-hnsw", "milvus-lite")


@dataclass(frozen=True)
class BackendResult:
    """One backend's figures."""

    backend: str
    index: str
    build_s: float
    memory_added_gb: float
    p50_ms: float
    p95_ms: float
    recall: float
    worst_recall: float
    queries: int  # how many queries were timed and measured
    worst_query: int  # the row of the query with the lowest recall
    worst_query_hits: int  # how many hits the backend returned for it (k unless it returned fewer)


def resident_gb() -> float:
    """This process's resident memory, from /proc (GB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e6
    return 0.0


def make_vectors(base: np.ndarray, count: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit rows, each a random mix of two rows of ``base`` plus Gaussian noise, renormalised."""
    out = np.empty((count, base.shape[1]), dtype=np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        first, second = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
        weight = rng.uniform(0.0, 1.0, (n, 1)).astype(np.float32)
        rows = weight * base[first] + (1 - weight) * base[second]
        rows += rng.normal(0.0, noise, rows.shape).astype(np.float32)
        out[start:start + n] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def _result(backend: str, index: str, build: float, memory: float, times: np.ndarray, found: np.ndarray,
            exact: np.ndarray) -> BackendResult:
    """The figures of one backend, from its per-query times and hits (row numbers, -1 for none)."""
    shares = recall_at_k(found, exact)
    worst = int(np.argmin(shares))
    return BackendResult(backend, index, build, memory, float(np.percentile(times, 50)),
                         float(np.percentile(times, 95)), float(shares.mean()), float(shares[worst]), len(times),
                         worst, int((found[worst] >= 0).sum()))


def _latencies(search: Callable[[np.ndarray], Any], queries: np.ndarray) -> tuple[list[Any], np.ndarray]:
    found, times = [], []
    for row in queries:
        started = time.perf_counter()
        found.append(search(row))
        times.append((time.perf_counter() - started) * 1000)
    return found, np.asarray(times)


def bench_faiss_hnsw(vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, k: int, say: Say) -> BackendResult:
    """FAISS HNSW as the explorer builds it (``IndexOptions``'s M, efConstruction and efSearch)."""
    before = resident_gb()
    started = time.perf_counter()
    options = IndexOptions(hnsw_threshold=1, recall_queries=1)  # recall is measured below, on the real queries
    index = DenseIndex(vectors, [str(i) for i in range(len(vectors))], options)
    build = time.perf_counter() - started
    say(f"faiss-hnsw: built in {build:.0f} s")
    found, times = _latencies(lambda row: index.search_rows(row.reshape(1, -1), k)[1][0], queries)
    return _result("FAISS", f"HNSW M={options.hnsw_neighbours} efConstruction={options.ef_construction} "
                   f"efSearch={max(options.ef_search, k)}", build, resident_gb() - before, times, np.asarray(found),
                   exact)


def bench_milvus_lite(vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, k: int, folder: Path,
                      say: Say) -> BackendResult:
    """milvus-lite as the explorer builds it (FLAT, inner product), inserting in batches."""
    from explorer.retrieval.milvus_connection import MilvusTarget, connect, disconnect
    from explorer.retrieval.milvus_index import open_corpus_collection

    target = MilvusTarget(str(folder))
    before = resident_gb()
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            say(f"milvus-lite: inserted {done:,} of {total:,}")

    ids = [str(i) for i in range(len(vectors))]
    stage = open_corpus_collection(connect(target), target, f"scale-{len(vectors)}", vectors, ids, progress)
    build = time.perf_counter() - started
    say(f"milvus-lite: built in {build:.0f} s ({stage.report.index_type})")
    found, times = _latencies(lambda row: [int(h.doc_id) for h in stage.search_rows(row.reshape(1, -1), k)[0]],
                              queries)
    padded = np.asarray([row + [-1] * (k - len(row)) for row in found], dtype=np.int64)
    result = _result("milvus-lite", stage.report.index_type, build, resident_gb() - before, times, padded, exact)
    disconnect(target)
    return result


def run_scale_bench(base: np.ndarray, query_base: np.ndarray, config: ScaleConfig, workdir: Path,
                    say: Say) -> dict[str, Any]:
    """The benchmark over vectors made from ``base`` and queries made from ``query_base`` (both unit rows)."""
    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    vectors = make_vectors(base, config.vectors, config.noise, rng)
    extra = max(0, config.queries - len(query_base))
    queries = query_base[:config.queries]
    if extra:
        queries = np.concatenate([queries, make_vectors(query_base, extra, config.noise, rng)])
    say(f"made {len(vectors):,} vectors and {len(queries)} queries in {time.perf_counter() - started:.0f} s")
    exact = exact_top_k(vectors, queries, config.k)
    results = []
    if "faiss-hnsw" in config.backends:
        results.append(bench_faiss_hnsw(vectors, queries, exact, config.k, say))
    if "milvus-lite" in config.backends:
        few = min(config.milvus_queries, len(queries))
        results.append(bench_milvus_lite(vectors, queries[:few], exact[:few], config.k, workdir / "scale-milvus.db",
                                         say))
    return {"config": asdict(config), "base_vectors": len(base), "query_base": len(query_base),
            "dimension": int(vectors.shape[1]), "results": [asdict(r) for r in results]}

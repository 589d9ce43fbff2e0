"""First stage: inner-product search over unit vectors with FAISS (inner product = cosine).

Small corpora get exact search (``IndexFlatIP``: every vector is compared; a few milliseconds per query up
to some 100,000 vectors). Above ``IndexOptions.hnsw_threshold`` vectors, an approximate HNSW graph
(``IndexHNSWFlat``) answers in near-constant time instead; what it misses is measured when it is built, as
its recall@k against exact search on a sample of the corpus's own vectors, and reported with the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.records import Hit

IndexKind = Literal["exact", "hnsw"]


@dataclass(frozen=True)
class IndexOptions:
    """When to switch from exact to HNSW search, the HNSW parameters, and how its recall is measured."""

    hnsw_threshold: int = 100_000  # vectors; at or above it the index is HNSW
    hnsw_neighbours: int = 32  # M: links per node
    ef_construction: int = 200
    ef_search: int = 256  # candidates explored per query (at least k)
    recall_k: int = 100
    recall_queries: int = 200  # corpus vectors used as queries to measure recall
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hnsw_threshold < 1 or self.hnsw_neighbours < 2 or self.ef_search < 1 or self.recall_k < 1:
            raise ConfigError("hnsw_threshold, ef_search and recall_k must be at least 1, hnsw_neighbours at least 2.")


@dataclass(frozen=True)
class RecallReport:
    """Recall@k of the approximate index against exact search: the share of the exact top k it returns."""

    k: int
    queries: int
    recall: float  # mean over the queries
    worst: float  # the lowest single query


class DenseIndex:
    """Inner-product search over unit vectors: exact below ``hnsw_threshold`` vectors, HNSW at or above it."""

    def __init__(self, vectors: np.ndarray, doc_ids: Sequence[str], options: IndexOptions = IndexOptions()) -> None:
        import faiss

        if len(vectors) != len(doc_ids):
            raise ConfigError(f"{len(vectors)} vectors but {len(doc_ids)} document ids; they must match.")
        self.doc_ids = list(doc_ids)
        self._rows = {unit_id: row for row, unit_id in enumerate(self.doc_ids)}
        self.options = options
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        self.kind: IndexKind = "hnsw" if len(matrix) >= options.hnsw_threshold else "exact"
        if self.kind == "hnsw":
            self._index = faiss.IndexHNSWFlat(matrix.shape[1], options.hnsw_neighbours, faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efConstruction = options.ef_construction
        else:
            self._index = faiss.IndexFlatIP(matrix.shape[1])
        self._index.add(matrix)
        self.recall: RecallReport | None = measure_recall(self, matrix) if self.kind == "hnsw" else None

    def __len__(self) -> int:
        return len(self.doc_ids)

    @property
    def description(self) -> str:
        """The kind of index and its size, in words; for HNSW, with its measured recall."""
        if self.recall is None:
            return f"exact (FAISS IndexFlatIP, {len(self)} vectors)"
        return (f"approximate (FAISS HNSW, M={self.options.hnsw_neighbours}, {len(self)} vectors): "
                f"recall@{self.recall.k} {self.recall.recall:.3f} against exact search "
                f"(worst query {self.recall.worst:.2f}, {self.recall.queries} sample queries)")

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray | None:
        """The indexed vectors of ``ids`` (one row each, in order), or None when one of them is not indexed."""
        rows = [self._rows.get(unit_id) for unit_id in ids]
        if any(row is None for row in rows):
            return None
        if not rows:
            return np.zeros((0, self._index.d), dtype=np.float32)
        return np.vstack([self._index.reconstruct(int(row)) for row in rows])

    def search(self, query_vector: np.ndarray, k: int) -> list[Hit]:
        """The top ``k`` (at least 1) documents for a query vector, best first; fewer when the corpus is smaller."""
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}.")
        k = min(k, len(self.doc_ids))
        if k == 0:
            return []
        scores, rows = self.search_rows(query_vector.reshape(1, -1), k)
        return [
            Hit(rank=position + 1, doc_id=self.doc_ids[row], score=float(score))
            for position, (row, score) in enumerate(zip(rows[0], scores[0]))
            if row >= 0
        ]

    def search_rows(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row numbers of the top ``k`` for each query row (-1 where fewer were found)."""
        import faiss

        matrix = np.ascontiguousarray(queries, dtype=np.float32)
        if self.kind == "hnsw":
            # Per-call parameters: the index is shared between threads, so its own efSearch is left alone.
            params = faiss.SearchParametersHNSW(efSearch=max(self.options.ef_search, k))
            return self._index.search(matrix, k, params=params)
        return self._index.search(matrix, k)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the exact top ``k`` by inner product for each query (order within the top k unspecified)."""
    k = min(k, vectors.shape[0])
    parts = []
    for start in range(0, len(queries), 16):  # 16 queries at a time: a 16 x n score matrix, whatever n
        scores = queries[start:start + 16] @ vectors.T
        parts.append(np.argpartition(-scores, k - 1, axis=1)[:, :k])
    return np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Per query: the share of the exact top k among the rows found (-1 = nothing found, never counted)."""
    if found.shape[0] != exact.shape[0]:
        raise ConfigError(f"{found.shape[0]} result rows but {exact.shape[0]} exact rows; they must match.")
    shares = [len(set(map(int, row[row >= 0])) & set(map(int, truth))) / len(truth) if len(truth) else 1.0
              for row, truth in zip(found, exact)]
    return np.asarray(shares, dtype=np.float64)


def measure_recall(index: DenseIndex, vectors: np.ndarray, queries: np.ndarray | None = None) -> RecallReport:
    """Recall@k of ``index`` against exact search, on ``queries`` or a seeded sample of the corpus vectors."""
    options = index.options
    return recall_against_exact(lambda rows, k: index.search_rows(rows, k)[1], vectors, queries, options.recall_k,
                                options.recall_queries, options.seed)


def recall_against_exact(search_rows: Callable[[np.ndarray, int], np.ndarray], vectors: np.ndarray,
                         queries: np.ndarray | None, k: int, sample: int, seed: int) -> RecallReport:
    """Recall@k of ``search_rows`` (query rows, k -> row numbers of the hits, -1 for none) against exact search over
    ``vectors``, on ``queries`` or a seeded sample of ``sample`` of the vectors themselves."""
    if queries is None:
        rng = np.random.default_rng(seed)
        queries = vectors[rng.choice(len(vectors), size=min(sample, len(vectors)), replace=False)]
    k = min(k, len(vectors))
    exact = exact_top_k(vectors, queries, k)
    shares = recall_at_k(search_rows(queries, k), exact)
    return RecallReport(k=k, queries=len(queries), recall=float(shares.mean()), worst=float(shares.min()))

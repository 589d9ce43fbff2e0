"""First stage: exact inner-product search over unit vectors with FAISS (inner product = cosine)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from explorer.errors import ConfigError


@dataclass(frozen=True)
class Hit:
    rank: int  # 1-based
    doc_id: str
    score: float
    passage_id: str | None = None  # the best-matching passage, when documents are split


class DenseIndex:
    def __init__(self, vectors: np.ndarray, doc_ids: Sequence[str]) -> None:
        import faiss

        if len(vectors) != len(doc_ids):
            raise ConfigError(f"{len(vectors)} vectors but {len(doc_ids)} document ids; they must match.")
        self.doc_ids = list(doc_ids)
        self._index = faiss.IndexFlatIP(vectors.shape[1])
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.doc_ids)

    def search(self, query_vector: np.ndarray, k: int) -> list[Hit]:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}.")
        k = min(k, len(self.doc_ids))
        if k == 0:
            return []
        scores, rows = self._index.search(np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32), k)
        return [
            Hit(rank=position + 1, doc_id=self.doc_ids[row], score=float(score))
            for position, (row, score) in enumerate(zip(rows[0], scores[0]))
            if row >= 0
        ]

"""The first stages over a corpus loaded here: FAISS (``dense``), BM25, their fusion (``hybrid``), and the grouping
of passage hits back into documents that any of them may need. Each implements ``FirstStage``."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from explorer.errors import ConfigError
from explorer.records import Hit
from explorer.retrieval.bm25_index import Bm25Index
from explorer.retrieval.dense_index import DenseIndex
from explorer.retrieval.first_stage import HYBRID_POOL, FirstStage, FirstStageMethod
from explorer.retrieval.fusion import reciprocal_rank_fusion
from explorer.retrieval.passages import best_passage_per_document

# With passages, the first stage reads this many passages per wanted document before grouping.
PASSAGE_FANOUT = 4


class DenseStage:
    """The bi-encoder's vectors searched with FAISS (exact, or HNSW for large corpora)."""

    method: FirstStageMethod = "dense"
    needs_vector = True

    def __init__(self, index: DenseIndex) -> None:
        self.index = index

    @property
    def description(self) -> str:
        """The FAISS index, in words."""
        return f"FAISS, {self.index.description}"

    def search(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """The top ``k`` by inner product with the encoded query."""
        if query_vector is None:
            raise ConfigError("The dense first stage needs the encoded query; call the pipeline's search() instead.")
        return self.index.search(query_vector, k)


class Bm25Stage:
    """BM25 over the corpus's words; the index is built on first use by ``build`` (a second or two per 10k)."""

    method: FirstStageMethod = "bm25"
    needs_vector = False

    def __init__(self, build: Callable[[], Bm25Index]) -> None:
        self._build = build
        self._index: Bm25Index | None = None

    @property
    def index(self) -> Bm25Index:
        """The BM25 index, built now if it was not yet."""
        if self._index is None:
            self._index = self._build()
        return self._index

    @property
    def description(self) -> str:
        """The BM25 options and size, in words."""
        return f"BM25 (bm25s, {self.index.options.key}, {len(self.index)} texts)"

    def search(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """The top ``k`` texts by BM25 (the vector is not used)."""
        return self.index.search(query, k)


class PassageGrouping:
    """A first stage over passages, answering with documents: each document by its best passage, reading more
    passages until ``k`` documents are found or every passage was read."""

    def __init__(self, units: FirstStage, passage_doc: Mapping[str, str]) -> None:
        self.units = units
        self.method = units.method
        self.needs_vector = units.needs_vector
        self._passage_doc = passage_doc

    @property
    def description(self) -> str:
        """The passage stage's description, and that documents rank by their best passage."""
        return f"{self.units.description}; documents ranked by their best passage"

    def search(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """The top ``k`` documents, each with its best passage."""
        total = len(self._passage_doc)
        wanted = min(k * PASSAGE_FANOUT, total)
        while True:
            unit_hits = self.units.search(query, query_vector, wanted)
            documents = best_passage_per_document(unit_hits, self._passage_doc, k)
            if len(documents) >= k or wanted >= total or len(unit_hits) < wanted:
                return documents
            wanted = min(wanted * 2, total)


class HybridStage:
    """Reciprocal rank fusion of a vector stage and BM25, each asked for at least ``HYBRID_POOL`` candidates."""

    method: FirstStageMethod = "hybrid"
    needs_vector = True

    def __init__(self, vectors: FirstStage, words: FirstStage) -> None:
        self.vectors, self.words = vectors, words

    @property
    def description(self) -> str:
        """Both fused stages, in words."""
        return f"reciprocal rank fusion of {self.vectors.description} and {self.words.description}"

    def search(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """The top ``k`` by reciprocal rank fusion of both stages' top ``max(k, HYBRID_POOL)``."""
        pool = max(k, HYBRID_POOL)
        return reciprocal_rank_fusion([self.vectors.search(query, query_vector, pool),
                                       self.words.search(query, None, pool)], k)

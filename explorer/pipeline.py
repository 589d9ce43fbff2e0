"""The two-stage pipeline: encode the query, search the dense index, rerank the candidates, time each stage."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from explorer.dense_index import DenseIndex, Hit
from explorer.embedding import Progress, embed_corpus, encode_query
from explorer.embedding_cache import EmbeddingCache
from explorer.errors import ConfigError
from explorer.fusion import blend_scores
from explorer.models import LoadedModel, ModelInfo
from explorer.passages import OverLength, Passage, PassageOptions, best_passage_per_document, count_over_length, \
    split_documents
from explorer.rank_shift import rank_change
from explorer.records import Dataset
from explorer.reranking import order_by_score, score_pairs

MAX_DEPTH = 1000


@dataclass(frozen=True)
class RerankedHit:
    rank: int
    doc_id: str
    score: float  # the reranker's raw score
    probability: float | None
    first_stage_rank: int
    first_stage_score: float
    passage_id: str | None = None
    # the ranking score when the reranker is blended with the first stage (see explorer.fusion), else None
    fused_score: float | None = None

    @property
    def rank_change(self) -> int:
        return rank_change(self.first_stage_rank, self.rank)


@dataclass(frozen=True)
class StageTimings:
    """Wall time of each stage in milliseconds."""

    query_encoding_ms: float
    vector_search_ms: float
    reranking_ms: float
    total_ms: float

    def as_dict(self) -> dict[str, float]:
        return {
            "query encoding": self.query_encoding_ms,
            "vector search": self.vector_search_ms,
            "reranking": self.reranking_ms,
        }


@dataclass(frozen=True)
class PipelineResult:
    query: str
    depth: int
    first_stage: tuple[Hit, ...]
    reranked: tuple[RerankedHit, ...] | None  # None when no reranker ran
    timings: StageTimings
    bi_encoder: ModelInfo
    reranker: ModelInfo | None


@dataclass(frozen=True)
class IndexReport:
    documents: int
    units: int  # what the index holds: documents, or passages when documents are split
    from_cache: bool
    seconds: float
    over_length: OverLength  # units longer than the bi-encoder reads
    passages: PassageOptions | None = None


# With passages, the first stage reads this many passages per wanted document before grouping.
PASSAGE_FANOUT = 4


class RetrievalPipeline:
    """A loaded corpus with its index, ready to answer queries. Build once, query many times."""

    def __init__(self, dataset: Dataset, bi_encoder: LoadedModel, reranker: LoadedModel | None,
                 index: DenseIndex, index_report: IndexReport, passages: Sequence[Passage] = ()) -> None:
        self.dataset = dataset
        self.bi_encoder = bi_encoder
        self.reranker = reranker
        self.index = index
        self.index_report = index_report
        self.passages = tuple(passages)
        self._passage_doc = {p.passage_id: p.doc_id for p in self.passages}
        self._passage_text = {p.passage_id: p.text for p in self.passages}

    @classmethod
    def build(cls, dataset: Dataset, bi_encoder: LoadedModel, reranker: LoadedModel | None,
              cache: EmbeddingCache, progress: Progress | None = None,
              passages: PassageOptions | None = None) -> "RetrievalPipeline":
        tokenizer = bi_encoder.model.tokenizer
        units: list[Passage] = split_documents(dataset.documents, tokenizer, passages) if passages else []
        ids = [p.passage_id for p in units] if passages else [doc.doc_id for doc in dataset.documents]
        texts = [p.text for p in units] if passages else [doc.full_text for doc in dataset.documents]
        embeddings = embed_corpus(bi_encoder, texts, cache, progress=progress,
                                  options=passages.key if passages else "")
        index = DenseIndex(embeddings.vectors, ids)
        over = count_over_length(texts, tokenizer, bi_encoder.model.max_seq_length, reserved=2)
        report = IndexReport(len(dataset.documents), len(ids), embeddings.from_cache, embeddings.seconds, over, passages)
        return cls(dataset, bi_encoder, reranker, index, report, units)

    def with_reranker(self, reranker: LoadedModel | None) -> "RetrievalPipeline":
        """The same corpus and index with another reranker (nothing is re-embedded)."""
        return RetrievalPipeline(self.dataset, self.bi_encoder, reranker, self.index, self.index_report, self.passages)

    def _search_passages(self, query_vector: np.ndarray, depth: int) -> list[Hit]:
        """Top documents by their best passage: read more passages until ``depth`` documents are found."""
        wanted = min(depth * PASSAGE_FANOUT, len(self.index))
        while True:
            documents = best_passage_per_document(self.index.search(query_vector, wanted), self._passage_doc, depth)
            if len(documents) >= depth or wanted >= len(self.index):
                return documents
            wanted = min(wanted * 2, len(self.index))

    def candidate_text(self, hit: Hit) -> str:
        """What the reranker reads for a candidate: its best passage, or the whole document."""
        if hit.passage_id is not None:
            return self._passage_text[hit.passage_id]
        return self.dataset.document(hit.doc_id).full_text

    def search(self, query: str, depth: int = 100, rerank: bool = True, blend: float = 1.0,
               clock: Callable[[], float] = time.perf_counter) -> PipelineResult:
        """``blend`` is the reranker's weight against the first stage (1 = reranker alone); see explorer.fusion."""
        query = query.strip()
        if not query:
            raise ConfigError("The query is empty. Type a question or pick a labelled query.")
        if not 1 <= depth <= MAX_DEPTH:
            raise ConfigError(f"Candidate depth must be between 1 and {MAX_DEPTH}, got {depth}.")
        started = clock()
        query_vector = encode_query(self.bi_encoder, query)
        encoded = clock()
        if self.passages:
            first_stage = tuple(self._search_passages(query_vector, depth))
        else:
            first_stage = tuple(self.index.search(query_vector, depth))
        searched = clock()
        reranked = None
        if rerank and self.reranker is not None:
            reranked = _rerank(self.reranker, query, first_stage, [self.candidate_text(h) for h in first_stage], blend)
        finished = clock()
        timings = StageTimings(
            query_encoding_ms=(encoded - started) * 1000,
            vector_search_ms=(searched - encoded) * 1000,
            reranking_ms=(finished - searched) * 1000 if reranked is not None else 0.0,
            total_ms=(finished - started) * 1000,
        )
        return PipelineResult(
            query=query, depth=depth, first_stage=first_stage, reranked=reranked, timings=timings,
            bi_encoder=self.bi_encoder.info, reranker=self.reranker.info if reranked is not None and self.reranker else None,
        )


def _rerank(reranker: LoadedModel, query: str, candidates: tuple[Hit, ...],
            texts: list[str], blend: float = 1.0) -> tuple[RerankedHit, ...]:
    scores = score_pairs(reranker, query, texts)
    raw = [float(s) for s in scores.raw]
    fused = blend_scores(raw, [hit.score for hit in candidates], blend) if blend < 1.0 else None
    order = order_by_score(fused if fused is not None else raw)
    return tuple(
        RerankedHit(
            rank=new_rank,
            doc_id=candidates[position].doc_id,
            score=float(scores.raw[position]),
            probability=float(scores.probability[position]) if scores.probability is not None else None,
            first_stage_rank=candidates[position].rank,
            first_stage_score=candidates[position].score,
            passage_id=candidates[position].passage_id,
            fused_score=fused[position] if fused is not None else None,
        )
        for new_rank, position in enumerate(order, start=1)
    )

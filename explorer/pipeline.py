"""The two-stage pipeline: encode the query, pull candidates (the first stage), rerank them, time each stage."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.models.info import LoadedModel, ModelInfo
from explorer.records import Dataset, Hit
from explorer.rerank.rank_shift import rank_change
from explorer.rerank.score_cache import ScoreCache
from explorer.rerank.scoring import order_by_score, score_pairs
from explorer.retrieval.bm25_index import Bm25Index
from explorer.retrieval.dense_index import DenseIndex, IndexOptions, RecallReport
from explorer.retrieval.embedding import Progress, embed_corpus, encode_query, query_length
from explorer.retrieval.embedding_cache import EmbeddingCache
from explorer.retrieval.first_stage import HYBRID_POOL, FirstStageMethod, check_first_stage_method, uses_bi_encoder
from explorer.retrieval.fusion import blend_scores, reciprocal_rank_fusion
from explorer.retrieval.passages import (
    OverLength,
    Passage,
    PassageOptions,
    best_passage_per_document,
    count_over_length,
    split_documents,
)

MAX_DEPTH = 1000


@dataclass(frozen=True)
class RerankedHit:
    """One reranked candidate: its new rank, the reranker's score, and where the first stage had it."""

    rank: int
    doc_id: str
    score: float  # the reranker's raw score
    probability: float | None
    first_stage_rank: int
    first_stage_score: float
    passage_id: str | None = None
    # the ranking score when the reranker is blended with the first stage (see explorer.retrieval.fusion), else None
    fused_score: float | None = None

    @property
    def rank_change(self) -> int:
        """Places moved up (positive) or down (negative) from the first stage."""
        return rank_change(self.first_stage_rank, self.rank)


@dataclass(frozen=True)
class StageTimings:
    """Wall time of each stage in milliseconds."""

    query_encoding_ms: float
    first_stage_ms: float  # the first-stage search: dense, BM25 or both
    reranking_ms: float
    total_ms: float

    def as_dict(self) -> dict[str, float]:
        """Stage name -> milliseconds, in pipeline order (for charts)."""
        return {
            "query encoding": self.query_encoding_ms,
            "first-stage search": self.first_stage_ms,
            "reranking": self.reranking_ms,
        }


@dataclass(frozen=True)
class PipelineResult:
    """One query through both stages: the first stage's hits, the reranked list, the models and the times."""

    query: str
    depth: int
    first_stage: tuple[Hit, ...]
    reranked: tuple[RerankedHit, ...] | None  # None when no reranker ran
    timings: StageTimings
    bi_encoder: ModelInfo
    reranker: ModelInfo | None
    first_stage_method: FirstStageMethod = "dense"
    # the query's length in bi-encoder tokens, and the bi-encoder's limit (0: not measured, as for BM25 alone)
    query_tokens: int = 0
    query_token_limit: int = 0
    reranker_engine: str = ""  # how the reranker ran for this query, e.g. "openvino · int8" ("" if it did not)

    @property
    def query_cut(self) -> str:
        """A notice when the bi-encoder read only part of the query, else ""."""
        if self.query_tokens <= self.query_token_limit or not self.query_token_limit:
            return ""
        return (f"The query is {self.query_tokens:,} tokens long; the bi-encoder read only its first "
                f"{self.query_token_limit}, and the reranker reads query and document together within its own "
                "limit, so a long query leaves little room for the document. Shorten the query to its question.")


@dataclass(frozen=True)
class IndexReport:
    """What building the index did: how much it holds, whether embeddings came from the cache, and how long."""

    documents: int
    units: int  # what the index holds: documents, or passages when documents are split
    from_cache: bool
    seconds: float
    over_length: OverLength  # units longer than the bi-encoder reads
    passages: PassageOptions | None = None
    index_kind: str = "exact"  # "exact" (FAISS flat) or "hnsw" (approximate, for large corpora)
    recall: RecallReport | None = None  # the approximate index's recall@k against exact search
    index_description: str = ""


# With passages, the first stage reads this many passages per wanted document before grouping.
PASSAGE_FANOUT = 4


class RetrievalPipeline:
    """A loaded corpus with its index, ready to answer queries. Build once, query many times."""

    def __init__(self, dataset: Dataset, bi_encoder: LoadedModel, reranker: LoadedModel | None,
                 index: DenseIndex, index_report: IndexReport, passages: Sequence[Passage] = (),
                 score_cache: ScoreCache | None = None) -> None:
        self.dataset = dataset
        self.bi_encoder = bi_encoder
        self.reranker = reranker
        self.index = index
        self.index_report = index_report
        self.passages = tuple(passages)
        self.score_cache = score_cache  # reranker scores already computed (None: score every pair)
        self._passage_doc = {p.passage_id: p.doc_id for p in self.passages}
        self._passage_text = {p.passage_id: p.text for p in self.passages}
        # one BM25 index for this corpus, shared by every copy made by with_reranker (built on first use)
        self._bm25: dict[str, Bm25Index] = {}

    @classmethod
    def build(cls, dataset: Dataset, bi_encoder: LoadedModel, reranker: LoadedModel | None,
              cache: EmbeddingCache, progress: Progress | None = None,
              passages: PassageOptions | None = None,
              index_options: IndexOptions | None = None,
              score_cache: ScoreCache | None = None) -> "RetrievalPipeline":
        """Embeds the corpus (or reads it from ``cache``) and indexes it; with ``passages``, passage by passage.
        Reranker scores are kept in ``score_cache`` when one is given (the caller decides how long it lives)."""
        tokenizer = bi_encoder.model.tokenizer
        units: list[Passage] = split_documents(dataset.documents, tokenizer, passages) if passages else []
        ids = [p.passage_id for p in units] if passages else [doc.doc_id for doc in dataset.documents]
        texts = [p.text for p in units] if passages else [doc.full_text for doc in dataset.documents]
        embeddings = embed_corpus(bi_encoder, texts, cache, progress=progress,
                                  options=passages.key if passages else "")
        index = DenseIndex(embeddings.vectors, ids, index_options or IndexOptions())
        over = count_over_length(texts, tokenizer, bi_encoder.model.max_seq_length, reserved=2)
        report = IndexReport(len(dataset.documents), len(ids), embeddings.from_cache, embeddings.seconds, over, passages,
                             index_kind=index.kind, recall=index.recall, index_description=index.description)
        return cls(dataset, bi_encoder, reranker, index, report, units, score_cache)

    def with_reranker(self, reranker: LoadedModel | None) -> "RetrievalPipeline":
        """The same corpus and index with another reranker (nothing is re-embedded; BM25 is shared too)."""
        other = RetrievalPipeline(self.dataset, self.bi_encoder, reranker, self.index, self.index_report, self.passages,
                                  self.score_cache)
        other._bm25 = self._bm25  # the same dict: an index built by any copy serves them all
        return other

    def with_dataset(self, dataset: Dataset) -> "RetrievalPipeline":
        """The same index over a copy of the data set with other queries or labels (judgements merged in); the
        documents must be the same ones."""
        if dataset.documents is not self.dataset.documents and \
                [d.doc_id for d in dataset.documents] != [d.doc_id for d in self.dataset.documents]:
            raise ConfigError("with_dataset needs the same documents; build a new pipeline for another corpus.")
        other = self.with_reranker(self.reranker)
        other.dataset = dataset
        return other

    def with_score_cache(self, score_cache: ScoreCache | None) -> "RetrievalPipeline":
        """The same pipeline keeping reranker scores in ``score_cache`` (None: every pair is scored afresh)."""
        other = self.with_reranker(self.reranker)
        other.score_cache = score_cache
        return other

    def uncached(self) -> "RetrievalPipeline":
        """The same pipeline scoring every pair afresh: for timing what a query costs, not what a repeat costs."""
        return self.with_score_cache(None)

    def bm25(self) -> Bm25Index:
        """The BM25 index over the same units as the dense index, built on first use (a second or two per 10k)."""
        if "index" not in self._bm25:
            if self.passages:
                self._bm25["index"] = Bm25Index([p.text for p in self.passages], [p.passage_id for p in self.passages])
            else:
                self._bm25["index"] = Bm25Index([d.full_text for d in self.dataset.documents],
                                                [d.doc_id for d in self.dataset.documents])
        return self._bm25["index"]

    def _documents(self, search_units: Callable[[int], list[Hit]], depth: int) -> list[Hit]:
        """Top ``depth`` documents; with passages, by their best passage, reading more passages as needed."""
        if not self.passages:
            return search_units(depth)
        wanted = min(depth * PASSAGE_FANOUT, len(self.index))
        while True:
            unit_hits = search_units(wanted)
            documents = best_passage_per_document(unit_hits, self._passage_doc, depth)
            if len(documents) >= depth or wanted >= len(self.index) or len(unit_hits) < wanted:
                return documents
            wanted = min(wanted * 2, len(self.index))

    def retrieve(self, query: str, query_vector: np.ndarray | None, depth: int,
                 method: FirstStageMethod) -> list[Hit]:
        """The first stage: the top ``depth`` documents by ``method`` (dense needs the encoded query)."""
        check_first_stage_method(method)
        if method == "dense":
            if query_vector is None:
                raise ConfigError("The dense first stage needs the encoded query; call search() instead.")
            return self._documents(lambda k: self.index.search(query_vector, k), depth)
        if method == "bm25":
            return self._documents(lambda k: self.bm25().search(query, k), depth)
        pool = max(depth, HYBRID_POOL)  # hybrid
        return reciprocal_rank_fusion([self.retrieve(query, query_vector, pool, "dense"),
                                       self.retrieve(query, None, pool, "bm25")], depth)

    def candidate_text(self, hit: Hit) -> str:
        """What the reranker reads for a candidate: its best passage, or the whole document."""
        if hit.passage_id is not None:
            return self._passage_text[hit.passage_id]
        return self.dataset.document(hit.doc_id).full_text

    def search(self, query: str, depth: int = 100, rerank: bool = True, blend: float = 1.0,
               clock: Callable[[], float] = time.perf_counter,
               first_stage_method: FirstStageMethod = "dense") -> PipelineResult:
        """One query through both stages. ``blend`` is the reranker's weight against the first stage (1 = the
        reranker alone; see explorer.retrieval.fusion). ``first_stage_method``: "dense" (bi-encoder + FAISS),
        "bm25", or "hybrid" (reciprocal rank fusion of both)."""
        query = query.strip()
        if not query:
            raise ConfigError("The query is empty. Type a question or pick a labelled query.")
        if not 1 <= depth <= MAX_DEPTH:
            raise ConfigError(f"Candidate depth must be between 1 and {MAX_DEPTH}, got {depth}.")
        check_first_stage_method(first_stage_method)
        if first_stage_method != "dense":
            self.bm25()  # built once, before the clock starts: index building is not query latency
        length = query_length(self.bi_encoder, query) if uses_bi_encoder(first_stage_method) else (0, 0)
        started = clock()
        query_vector = encode_query(self.bi_encoder, query) if uses_bi_encoder(first_stage_method) else None
        encoded = clock() if query_vector is not None else started
        candidates = tuple(self.retrieve(query, query_vector, depth, first_stage_method))
        searched = clock()
        reranked, ran = None, ""
        if rerank and self.reranker is not None:
            texts = [self.candidate_text(h) for h in candidates]
            reranked, ran = _rerank(self.reranker, query, candidates, texts, blend, self.score_cache) \
                if candidates else ((), "")
        finished = clock()
        timings = StageTimings(
            query_encoding_ms=(encoded - started) * 1000,
            first_stage_ms=(searched - encoded) * 1000,
            reranking_ms=(finished - searched) * 1000 if reranked is not None else 0.0,
            total_ms=(finished - started) * 1000,
        )
        return PipelineResult(
            query=query, depth=depth, first_stage=candidates, reranked=reranked, timings=timings,
            bi_encoder=self.bi_encoder.info, reranker=self.reranker.info if reranked is not None and self.reranker else None,
            first_stage_method=first_stage_method, query_tokens=length[0], query_token_limit=length[1],
            reranker_engine=ran,
        )


def _rerank(reranker: LoadedModel, query: str, candidates: tuple[Hit, ...],
            texts: list[str], blend: float = 1.0,
            cache: ScoreCache | None = None) -> tuple[tuple[RerankedHit, ...], str]:
    """The candidates in the reranked (or blended) order, and how the reranker ran."""
    scores = score_pairs(reranker, query, texts, cache=cache)
    raw = [float(s) for s in scores.raw]
    fused = blend_scores(raw, [hit.score for hit in candidates], blend) if blend < 1.0 else None
    order = order_by_score(fused if fused is not None else raw)
    hits = tuple(
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
    return hits, scores.ran


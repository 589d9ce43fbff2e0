"""The two-stage pipeline: encode the query, pull candidates (the first stage), rerank them, time each stage."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.models.info import LoadedModel, ModelInfo
from explorer.records import Dataset, Hit
from explorer.rerank.cascade import SMALL, CascadeReport, CascadeScores, cascade_order, cascade_scores
from explorer.rerank.rank_shift import rank_change
from explorer.rerank.score_cache import ScoreCache
from explorer.rerank.scoring import PairScores, order_by_score, score_pairs
from explorer.rerank.windows import BestWindows, DocumentFrequencies, WindowOptions
from explorer.retrieval.bm25_index import Bm25Index
from explorer.retrieval.dense_index import DenseIndex, IndexOptions, RecallReport
from explorer.retrieval.embedding import Progress, embed_corpus, encode_query, encode_texts, query_length
from explorer.retrieval.embedding_cache import EmbeddingCache
from explorer.retrieval.first_stage import (
    FIRST_STAGE_METHODS,
    FirstStage,
    FirstStageMethod,
    check_first_stage_method,
    uses_bi_encoder,
)
from explorer.retrieval.fusion import blend_scores
from explorer.retrieval.passages import OverLength, Passage, PassageOptions, count_over_length, split_documents
from explorer.retrieval.stages import Bm25Stage, DenseStage, HybridStage, PassageGrouping
from explorer.signals.config import SignalConfig
from explorer.signals.ranking import SignalledRanking, apply_signals, metadata_lookup

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
    # with a cascade (explorer.rerank.cascade): "small" where only the small reranker read the candidate (``score`` is
    # then the small one's, on its own scale), and the small reranker's score of every candidate
    scored_by: str = "main"
    small_score: float | None = None

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
    cascade: CascadeReport | None = None  # what each stage of a cascade read and cost (None: no cascade ran)
    # pairs the score cache answered (their time is the cache's, not the model's), of ``rerank_pairs`` scored
    rerank_from_cache: int = 0
    rerank_pairs: int = 0
    # the final list after freshness, authority, numbers and diversity (None: relevance alone; see explorer.signals)
    signals: SignalledRanking | None = None
    signals_ms: float = 0.0

    @property
    def final_hits(self) -> tuple[Hit, ...] | tuple[RerankedHit, ...]:
        """The list the signals reorder: the reranked one, or the first stage's when no reranker ran."""
        return self.reranked if self.reranked is not None else self.first_stage

    def in_signal_order(self) -> PipelineResult:
        """This result with its reranked list in the signals' final order, ranks renumbered (itself when no signals
        ran or no reranker did: the first stage's list stays the first stage's)."""
        if self.signals is None or self.reranked is None:
            return self
        by_id = {hit.doc_id: hit for hit in self.reranked}
        reordered = tuple(replace(by_id[hit.doc_id], rank=hit.rank) for hit in self.signals.hits)
        return replace(self, reranked=reordered)

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


class RetrievalPipeline:
    """A loaded corpus with its first stages, ready to answer queries. Build once, query many times.

    ``index`` is the FAISS index of the corpus (None for a pipeline over an attached Milvus collection, whose
    documents are fetched as they are found); every first stage is reached through ``first_stage(method)``."""

    def __init__(self, dataset: Dataset, bi_encoder: LoadedModel, reranker: LoadedModel | None,
                 index: DenseIndex | None, index_report: IndexReport, passages: Sequence[Passage] = (),
                 score_cache: ScoreCache | None = None, stages: dict[str, FirstStage] | None = None,
                 windows: dict[tuple[int, str], BestWindows] | None = None) -> None:
        self.dataset = dataset
        self.bi_encoder = bi_encoder
        self.reranker = reranker
        self.index = index
        self.index_report = index_report
        self.passages = tuple(passages)
        self.score_cache = score_cache  # reranker scores already computed (None: score every pair)
        # a small reranker reading every candidate and how many of its best the reranker reads (None: no cascade)
        self.cascade: tuple[LoadedModel, int] | None = None
        # how much of a long document the reranker reads: its best window for the query (None: from its start)
        self.window: WindowOptions | None = None
        # the best-window choosers by (tokenizer, options), shared by every copy (they keep documents' token offsets)
        self._windows: dict[tuple[int, str], BestWindows] = windows if windows is not None else {}
        self._passage_doc = {p.passage_id: p.doc_id for p in self.passages}
        self._passage_text = {p.passage_id: p.text for p in self.passages}
        self._doc_passages: dict[str, list[str]] = {}  # document id -> its passages' ids, in order
        for passage in self.passages:
            self._doc_passages.setdefault(passage.doc_id, []).append(passage.passage_id)
        # signal configurations resolved against this corpus (see resolved_signals), shared with the copies
        self._resolved: dict[SignalConfig, SignalConfig] = {}
        # this corpus's first stages by method, shared by every copy made by with_reranker (BM25 built on first use)
        self._stages: dict[str, FirstStage] = stages if stages is not None else self._corpus_stages()

    def _corpus_stages(self) -> dict[str, FirstStage]:
        stages: dict[str, FirstStage] = {}
        if self.index is not None:
            stages["dense"] = self.over_documents(DenseStage(self.index))
            stages["bm25"] = self.over_documents(Bm25Stage(self._build_bm25))
            stages["hybrid"] = HybridStage(stages["dense"], stages["bm25"])
        return stages

    def over_documents(self, units: FirstStage) -> FirstStage:
        """A first stage over this pipeline's units (documents, or passages) answering with documents."""
        return PassageGrouping(units, self._passage_doc) if self.passages else units

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
        ids, texts = unit_ids_and_texts(dataset, units)
        embeddings = embed_corpus(bi_encoder, texts, cache, progress=progress,
                                  options=passages.key if passages else "")
        index = DenseIndex(embeddings.vectors, ids, index_options or IndexOptions())
        over = count_over_length(texts, tokenizer, bi_encoder.model.max_seq_length, reserved=2)
        report = IndexReport(len(dataset.documents), len(ids), embeddings.from_cache, embeddings.seconds, over, passages,
                             index_kind=index.kind, recall=index.recall, index_description=index.description)
        return cls(dataset, bi_encoder, reranker, index, report, units, score_cache)

    def _copy(self, stages: dict[str, FirstStage] | None = None) -> "RetrievalPipeline":
        other = RetrievalPipeline(self.dataset, self.bi_encoder, self.reranker, self.index, self.index_report,
                                  self.passages, self.score_cache, self._stages if stages is None else stages,
                                  self._windows)
        other.cascade = self.cascade
        other.window = self.window
        other._resolved = self._resolved
        return other

    def with_window(self, window: WindowOptions | None) -> "RetrievalPipeline":
        """A copy whose reranker reads, of a document longer than ``window``, its best window for the query rather
        than its first tokens (None: documents are read from their start; see explorer.rerank.windows)."""
        other = self._copy()
        other.window = window
        return other

    def with_cascade(self, small: LoadedModel | None, keep: int = 20) -> "RetrievalPipeline":
        """A copy whose reranking is a cascade: ``small`` reads every candidate and the reranker only the small
        one's top ``keep`` (None: the reranker reads every candidate)."""
        if keep < 1:
            raise ConfigError(f"The reranker must read at least 1 candidate in a cascade; got {keep}.")
        other = self._copy()
        other.cascade = (small, keep) if small is not None else None
        return other

    def with_reranker(self, reranker: LoadedModel | None) -> "RetrievalPipeline":
        """The same corpus and first stages with another reranker (nothing is re-embedded; BM25 is shared too)."""
        other = self._copy()
        other.reranker = reranker
        return other

    def with_first_stage(self, stage: FirstStage) -> "RetrievalPipeline":
        """A copy that also answers ``stage.method`` with ``stage`` (its hits are this pipeline's units: document
        or passage ids); the other first stages are shared."""
        return self._copy({**self._stages, stage.method: self.over_documents(stage)})

    def with_dataset(self, dataset: Dataset) -> "RetrievalPipeline":
        """The same index over a copy of the data set with other queries or labels (judgements merged in); the
        documents must be the same ones."""
        if dataset.documents is not self.dataset.documents and \
                [d.doc_id for d in dataset.documents] != [d.doc_id for d in self.dataset.documents]:
            raise ConfigError("with_dataset needs the same documents; build a new pipeline for another corpus.")
        other = self._copy()
        other.dataset = dataset
        return other

    def with_score_cache(self, score_cache: ScoreCache | None) -> "RetrievalPipeline":
        """The same pipeline keeping reranker scores in ``score_cache`` (None: every pair is scored afresh)."""
        other = self._copy()
        other.score_cache = score_cache
        return other

    def uncached(self) -> "RetrievalPipeline":
        """The same pipeline scoring every pair afresh: for timing what a query costs, not what a repeat costs."""
        return self.with_score_cache(None)

    @property
    def first_stage_methods(self) -> tuple[FirstStageMethod, ...]:
        """The first-stage methods this pipeline can answer with, in the usual order."""
        return tuple(method for method in FIRST_STAGE_METHODS if method in self._stages)

    def first_stage(self, method: FirstStageMethod) -> FirstStage:
        """The first stage answering ``method``; a ConfigError names the ones this pipeline has."""
        check_first_stage_method(method)
        if method not in self._stages:
            have = ", ".join(self.first_stage_methods) or "none"
            hint = (" Choose the Milvus first stage in the sidebar (or --first-stage milvus) to build it."
                    if method == "milvus" else
                    " This pipeline searches an attached Milvus collection; load the corpus here for dense, BM25 "
                    "or hybrid." if self.index is None else "")
            raise ConfigError(f"The first stage {method!r} is not open for this corpus (open: {have}).{hint}")
        return self._stages[method]

    def _build_bm25(self) -> Bm25Index:
        """The BM25 index over the same units as the dense index (a second or two per 10k texts)."""
        ids, texts = unit_ids_and_texts(self.dataset, self.passages)
        return Bm25Index(texts, ids)

    def bm25(self) -> Bm25Index:
        """The BM25 index over the same units as the dense index, built on first use."""
        stage = self.first_stage("bm25")
        units = stage.units if isinstance(stage, PassageGrouping) else stage
        return units.index  # type: ignore[attr-defined]

    def retrieve(self, query: str, query_vector: np.ndarray | None, depth: int,
                 method: FirstStageMethod) -> list[Hit]:
        """The first stage: the top ``depth`` documents by ``method`` (all but BM25 need the encoded query)."""
        stage = self.first_stage(method)
        if stage.needs_vector and query_vector is None:
            raise ConfigError(f"The {method} first stage needs the encoded query; call search() instead.")
        return stage.search(query, query_vector, depth)

    def candidates(self, query: str, depth: int, method: FirstStageMethod,
                   clock: Callable[[], float] = time.perf_counter) -> tuple[tuple[Hit, ...], float | None, float]:
        """The first stage's top ``depth`` for ``query`` (encoded first where ``method`` needs it), with the clock's
        readings when the query was encoded (None: ``method`` needs no encoding) and when the search ended."""
        query_vector = encode_query(self.bi_encoder, query) if uses_bi_encoder(method) else None
        encoded = clock() if query_vector is not None else None
        hits = tuple(self.retrieve(query, query_vector, depth, method))
        return hits, encoded, clock()

    def vectors_for(self, hits: Sequence[Hit | RerankedHit]) -> np.ndarray:
        """The bi-encoder's vector of each hit as the first stage saw it (its passage, or the document): read from the
        index where it holds them, else encoded now (an attached Milvus collection)."""
        ids = [hit.passage_id or hit.doc_id for hit in hits]
        found = self.index.vectors_of(ids) if self.index is not None else None
        if found is not None:
            return found
        return encode_texts(self.bi_encoder, [self.candidate_text(hit) for hit in hits])  # type: ignore[arg-type]

    def document_vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        """One vector per document: its indexed vector, or with passages the normalised mean of its passages'
        (an evaluation keeps documents, not the passage that matched); encoded now where the index has none."""
        if self.index is not None and not self.passages:
            found = self.index.vectors_of(doc_ids)
            if found is not None:
                return found
        if self.index is not None and self.passages:
            rows = []
            for doc_id in doc_ids:
                vectors = self.index.vectors_of(self._doc_passages.get(doc_id, []))
                if vectors is None or not len(vectors):
                    break
                mean = vectors.mean(axis=0)
                rows.append(mean / (np.linalg.norm(mean) or 1.0))
            else:
                return np.vstack(rows) if rows else np.zeros((0, 1), dtype=np.float32)
        return encode_texts(self.bi_encoder, [self.dataset.document(doc_id).full_text for doc_id in doc_ids])

    def resolved_signals(self, config: SignalConfig) -> SignalConfig:
        """``config`` resolved against this corpus (freshness's "now", numbers' ranges), once per configuration."""
        if config not in self._resolved:
            self._resolved[config] = config.resolved(self.dataset.documents)
        return self._resolved[config]

    def rank_with_signals(self, result: PipelineResult, config: SignalConfig | None,
                          clock: Callable[[], float] = time.perf_counter) -> PipelineResult:
        """``result`` with its final list reordered by ``config`` (unchanged when None or inactive): relevance is the
        ranking score (the blend's, where blended; by rank for a cascade, whose list mixes two models' scales)."""
        if config is None or not config.active:
            return result
        started = clock()
        resolved = self.resolved_signals(config)
        hits = result.final_hits
        if result.reranked is None:
            scores: list[float] | None = [hit.score for hit in hits]
        elif result.cascade is not None:
            scores = None
        else:
            scores = [h.fused_score if h.fused_score is not None else h.score for h in result.reranked]
        mmr = resolved.diversity is not None and resolved.diversity.mode == "mmr"
        vectors = self.vectors_for(hits) if mmr and hits else None
        ranking = apply_signals([hit.doc_id for hit in hits], scores, metadata_lookup(self.dataset.document),
                                resolved, vectors)
        return replace(result, signals=ranking, signals_ms=(clock() - started) * 1000)

    def candidate_text(self, hit: Hit) -> str:
        """What the reranker reads for a candidate: its best passage, or the whole document."""
        if hit.passage_id is not None:
            return self._passage_text[hit.passage_id]
        return self.dataset.document(hit.doc_id).full_text

    def reranker_texts(self, query: str, hits: Sequence[Hit]) -> list[str]:
        """What the reranker reads for each of ``hits``: a passage as it is; a document whole (up to the reranker's
        limit), or with a window set, its best window for ``query``."""
        if self.window is None:
            return [self.candidate_text(hit) for hit in hits]
        chooser = self._best_windows(self.window)
        whole = [hit for hit in hits if hit.passage_id is None]
        chosen = dict(zip((hit.doc_id for hit in whole),
                          chooser.texts(query, [self.dataset.document(hit.doc_id) for hit in whole])))
        return [chosen[hit.doc_id] if hit.passage_id is None else self.candidate_text(hit) for hit in hits]

    def _best_windows(self, window: WindowOptions) -> BestWindows:
        """The chooser of best windows for the reranker's tokenizer (the bi-encoder's where it has none, as a remote
        reranker), made once and shared with this pipeline's copies."""
        tokenizer = getattr(self.reranker.model, "tokenizer", None) if self.reranker else None
        tokenizer = tokenizer or self.bi_encoder.model.tokenizer
        key = (id(tokenizer), window.key)
        if key not in self._windows:
            frequencies = next((chooser.frequencies for chooser in self._windows.values()), None) or \
                DocumentFrequencies(unit_ids_and_texts(self.dataset, self.passages)[1])
            self._windows[key] = BestWindows(tokenizer, frequencies, window)
        return self._windows[key]

    def search(self, query: str, depth: int = 100, rerank: bool = True, blend: float = 1.0,
               clock: Callable[[], float] = time.perf_counter,
               first_stage_method: FirstStageMethod = "dense") -> PipelineResult:
        """One query through both stages. ``blend`` is the reranker's weight against the first stage (1 = the
        reranker alone; see explorer.retrieval.fusion). ``first_stage_method``: "dense" (bi-encoder + FAISS),
        "bm25", "hybrid" (reciprocal rank fusion of both) or "milvus" (when the pipeline has it open)."""
        query = query.strip()
        if not query:
            raise ConfigError("The query is empty. Type a question or pick a labelled query.")
        if not 1 <= depth <= MAX_DEPTH:
            raise ConfigError(f"Candidate depth must be between 1 and {MAX_DEPTH}, got {depth}.")
        self.first_stage(first_stage_method)  # a ConfigError now if it is not open
        if first_stage_method in ("bm25", "hybrid"):
            self.bm25()  # built once, before the clock starts: index building is not query latency
        length = query_length(self.bi_encoder, query) if uses_bi_encoder(first_stage_method) else (0, 0)
        started = clock()
        candidates, encoded, searched = self.candidates(query, depth, first_stage_method, clock)
        encoded = started if encoded is None else encoded
        reranked, ran, cascaded, answered, pairs = None, "", None, 0, 0
        if rerank and self.reranker is not None:
            texts = self.reranker_texts(query, candidates)
            if self.cascade is not None and candidates:
                reranked, ran, cascaded = _cascade(self.cascade, self.reranker, query, candidates, texts, blend,
                                                   self.score_cache, clock)
                answered = cascaded.from_cache_small + cascaded.from_cache_main
                pairs = cascaded.pairs_small + cascaded.pairs_main
            elif candidates:
                reranked, ran, answered = _rerank(self.reranker, query, candidates, texts, blend, self.score_cache)
                pairs = len(candidates)
            else:
                reranked = ()
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
            reranker_engine=ran, cascade=cascaded, rerank_from_cache=answered, rerank_pairs=pairs,
        )


def _rerank(reranker: LoadedModel, query: str, candidates: tuple[Hit, ...],
            texts: list[str], blend: float = 1.0,
            cache: ScoreCache | None = None) -> tuple[tuple[RerankedHit, ...], str, int]:
    """The candidates in the reranked (or blended) order, how the reranker ran, and how many pairs the cache answered."""
    scores = score_pairs(reranker, query, texts, cache=cache)
    return reranked_hits(candidates, scores.raw, scores.probability, blend), scores.ran, scores.from_cache


def _cascade(cascade: tuple[LoadedModel, int], main: LoadedModel, query: str, candidates: tuple[Hit, ...],
             texts: list[str], blend: float, cache: ScoreCache | None,
             clock: Callable[[], float]) -> tuple[tuple[RerankedHit, ...], str, CascadeReport]:
    """The cascade's hits (``cascade_hits``), how the main reranker ran, and what each stage read and cost."""
    small, keep = cascade
    scores = cascade_scores(small, main, query, texts, keep, [h.score for h in candidates], blend, cache, clock)
    if scores.report is None:
        raise RuntimeError("cascade_scores returned no report of its run; this is a bug.")
    return cascade_hits(candidates, scores, blend), scores.main.ran, scores.report


def cascade_hits(candidates: Sequence[Hit], scores: CascadeScores, blend: float = 1.0) -> tuple[RerankedHit, ...]:
    """The cascade's order of ``candidates``: the ones the main reranker read, by its score (or its blend with the
    first stage's), then the others in the small reranker's ranking, with the small reranker's scores."""
    small_raw = [float(s) for s in scores.small.raw]
    small_probability = scores.small.probability
    read = [candidates[p] for p in scores.main_positions]
    ranked = reranked_hits(read, scores.main.raw, scores.main.probability, blend)
    index = {(hit.doc_id, hit.passage_id): i for i, hit in enumerate(read)}
    by_main = {scores.main_positions[index[(hit.doc_id, hit.passage_id)]]: hit for hit in ranked}
    order = cascade_order(scores.ranking, scores.main_positions,
                          [index[(hit.doc_id, hit.passage_id)] for hit in ranked])
    hits = []
    for rank, p in enumerate(order, start=1):
        if p in by_main:
            hits.append(replace(by_main[p], small_score=small_raw[p]))
            continue
        hits.append(RerankedHit(rank=rank, doc_id=candidates[p].doc_id, score=small_raw[p],
                                probability=float(small_probability[p]) if small_probability is not None else None,
                                first_stage_rank=candidates[p].rank, first_stage_score=candidates[p].score,
                                passage_id=candidates[p].passage_id, scored_by=SMALL, small_score=small_raw[p]))
    return tuple(hits)


def cascade_order_of_scores(candidates: Sequence[Hit], small_raw: Sequence[float], ranking: Sequence[int],
                            positions: Sequence[int], main_raw: Sequence[float], blend: float = 1.0) -> list[str]:
    """The doc ids in the cascade's order (``cascade_hits``) from scores already computed: the small reranker's of
    every candidate, its ``ranking``, and the main reranker's ``main_raw`` of the candidates at ``positions``. The
    cascade benchmark and the Evaluate page's sweep of M reuse scores this way instead of running a cascade per M."""
    scores = CascadeScores(PairScores(np.asarray(small_raw, dtype=np.float32), None), tuple(positions),
                           PairScores(np.asarray(main_raw, dtype=np.float32), None), None, tuple(ranking))
    return [hit.doc_id for hit in cascade_hits(candidates, scores, blend)]


def reranked_order(candidates: Sequence[Hit], raw: Sequence[float], blend: float = 1.0) -> list[str]:
    """The doc ids of ``candidates`` in ``reranked_hits``' order."""
    return [hit.doc_id for hit in reranked_hits(candidates, raw, None, blend)]


def reranked_hits(candidates: Sequence[Hit], raw: Sequence[float], probability: Sequence[float] | None,
                  blend: float = 1.0) -> tuple[RerankedHit, ...]:
    """The candidates in the order of the reranker's ``raw`` scores (one per candidate, in candidate order), or of
    their blend with the first stage's scores when ``blend`` < 1 (the reranker's weight)."""
    raw = [float(s) for s in raw]
    fused = blend_scores(raw, [hit.score for hit in candidates], blend) if blend < 1.0 else None
    order = order_by_score(fused if fused is not None else raw)
    return tuple(
        RerankedHit(
            rank=new_rank,
            doc_id=candidates[position].doc_id,
            score=raw[position],
            probability=float(probability[position]) if probability is not None else None,
            first_stage_rank=candidates[position].rank,
            first_stage_score=candidates[position].score,
            passage_id=candidates[position].passage_id,
            fused_score=fused[position] if fused is not None else None,
        )
        for new_rank, position in enumerate(order, start=1)
    )


def unit_ids_and_texts(dataset: Dataset, units: Sequence[Passage]) -> tuple[list[str], list[str]]:
    """What the first stage indexes: the passages when documents are split, else the documents."""
    if units:
        return [p.passage_id for p in units], [p.text for p in units]
    return [doc.doc_id for doc in dataset.documents], [doc.full_text for doc in dataset.documents]

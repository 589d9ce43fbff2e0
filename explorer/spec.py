"""One way to open a pipeline: a small specification, and the one function that opens it.

Both doors use it: the pages (through ``ui/cache.py``, which keeps the opened parts across reruns and browser
sessions) and the command line. ``"default"`` becomes a model name here and nowhere else, and so does the
blend rule (the reranker's card, the reranker alone, or a custom weight). The same specification and query
therefore rank identically from either door.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Protocol

from explorer.errors import ConfigError
from explorer.models.info import LoadedModel, ModelInfo
from explorer.pipeline import MAX_DEPTH, PipelineResult, RetrievalPipeline
from explorer.records import Dataset
from explorer.rerank.cascade import CascadeSpec
from explorer.rerank.score_cache import ScoreCache
from explorer.rerank.windows import WindowOptions
from explorer.retrieval.first_stage import FirstStageMethod, check_first_stage_method
from explorer.retrieval.milvus_connection import MilvusSource
from explorer.retrieval.passages import PassageOptions
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER, SAMPLE_DATA, Settings
from explorer.signals.config import SignalConfig

BlendMode = Literal["card", "alone", "custom"]
BLEND_MODES: tuple[BlendMode, ...] = ("card", "alone", "custom")
DEFAULT = "default"
# progress(done, total, what) while the pipeline is opened: what is EMBEDDING (the corpus's texts) or INSERTING (its
# vectors into the Milvus collection built for it)
Progress = Callable[[int, int, str], None]
EMBEDDING = "Embedding the corpus"
INSERTING = "Inserting the corpus's vectors into Milvus"


def _told(progress: Progress | None, what: str) -> Callable[[int, int], None] | None:
    """``progress`` as a step that reports (done, total) calls it, saying which step it is."""
    if progress is None:
        return None
    return lambda done, total: progress(done, total, what)


@dataclass(frozen=True)
class Blend:
    """How the reranked order weighs the reranker against the first stage.

    ``card``: the weight the reranker's card recommends (1.0, the reranker alone, for models without a card);
    ``alone``: the reranker's score only; ``custom``: ``weight`` (0-1) for the reranker."""

    mode: BlendMode = "card"
    weight: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in BLEND_MODES:
            raise ConfigError(f"Unknown blend {self.mode!r}; choose one of: {', '.join(BLEND_MODES)}.")
        if not 0.0 <= self.weight <= 1.0:
            raise ConfigError(f"The blend weight must be between 0 and 1, got {self.weight}.")

    @classmethod
    def parse(cls, text: str) -> "Blend":
        """The command line's form: 'card', 'alone', or a weight from 0 to 1."""
        text = text.strip().lower()
        if text in ("card", "alone"):
            return cls(text)  # type: ignore[arg-type]
        try:
            return cls("custom", float(text))
        except ValueError:
            raise ConfigError(f"--blend takes 'card', 'alone' or a number from 0 to 1; got {text!r}.") from None

    def weight_for(self, reranker: ModelInfo | None) -> float:
        """The reranker's weight in the ranking score (1.0 = the reranker alone; no reranker: 1.0)."""
        if reranker is None or self.mode == "alone":
            return 1.0
        if self.mode == "card":
            return reranker.recommended_blend
        return self.weight


def model_name(name: str, role: Literal["bi-encoder", "reranker"]) -> str:
    """``"default"`` as the model the explorer uses by default for ``role``; any other name as given."""
    name = name.strip()
    if name == DEFAULT:
        return DEFAULT_BI_ENCODER if role == "bi-encoder" else DEFAULT_RERANKER
    return name


@dataclass(frozen=True)
class PipelineSpec:
    """Everything that decides how a query is ranked: data set, first stage, models, device, passages, depth, blend."""

    dataset: str = str(SAMPLE_DATA)
    first_stage_method: FirstStageMethod = "dense"
    bi_encoder: str = DEFAULT
    reranker: str | None = DEFAULT  # None: the first stage only
    device: str = "auto"
    trust_remote_code: bool = False
    passages: PassageOptions | None = None
    depth: int = 100
    blend: Blend = Blend()
    milvus: MilvusSource = MilvusSource()  # with the ``milvus`` first stage: where, and which collection
    # a small reranker reading every candidate, the reranker only its best (None: the reranker reads them all)
    cascade: CascadeSpec | None = None
    # how much of a long document the reranker reads: its best window for the query (None: from its start)
    window: WindowOptions | None = None
    # freshness, authority, numbers and diversity mixed with relevance (None: relevance alone)
    signals: SignalConfig | None = None

    def __post_init__(self) -> None:
        check_first_stage_method(self.first_stage_method)
        if self.cascade is not None and self.reranker is None:
            raise ConfigError("A cascade needs a reranker to read the small reranker's best; choose one, or "
                              "turn the cascade off.")
        if self.first_stage_method == "milvus" and self.milvus.attached and self.passages is not None:
            raise ConfigError("An attached collection is searched as it is; passages are split only in a corpus "
                              "indexed here. Turn passage splitting off, or index the corpus here.")
        if not 1 <= self.depth <= MAX_DEPTH:
            raise ConfigError(f"Candidate depth must be between 1 and {MAX_DEPTH}, got {self.depth}.")

    @property
    def bi_encoder_name(self) -> str:
        """The bi-encoder to load, with ``default`` resolved."""
        return model_name(self.bi_encoder, "bi-encoder")

    @property
    def reranker_name(self) -> str | None:
        """The reranker to load, with ``default`` resolved; None for the first stage only."""
        return model_name(self.reranker, "reranker") if self.reranker else None


class PipelineParts(Protocol):
    """Where ``open_pipeline`` gets its pieces: the pages keep them in Streamlit's caches, the CLI loads them."""

    def dataset(self, path: str) -> Dataset:
        """The data set in the BEIR folder ``path``."""

    def bi_encoder(self, name: str, device: str, trust_remote_code: bool) -> LoadedModel:
        """The bi-encoder ``name`` loaded on ``device``."""

    def reranker(self, name: str, device: str, trust_remote_code: bool) -> LoadedModel:
        """The reranker ``name`` loaded on ``device``."""

    def indexed(self, spec: PipelineSpec, progress: Progress | None) -> RetrievalPipeline:
        """The spec's corpus embedded with its bi-encoder and indexed, without a reranker."""

    def milvus(self, spec: PipelineSpec, progress: Progress | None) -> RetrievalPipeline:
        """The spec's pipeline with its Milvus first stage open (see ``open_milvus``), without a reranker."""


class DirectParts:
    """Loads every piece afresh in this process (the command line; tests)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def dataset(self, path: str) -> Dataset:
        """Reads the BEIR folder ``path``."""
        from explorer.loading import load_beir

        return load_beir(path)

    def bi_encoder(self, name: str, device: str, trust_remote_code: bool) -> LoadedModel:
        """Resolves and loads the bi-encoder ``name``."""
        from explorer.inference.device import choose_device
        from explorer.models.resolution import load_bi_encoder

        return load_bi_encoder(name, choose_device(device), self.settings,  # type: ignore[arg-type]
                               trust_remote_code=trust_remote_code)

    def reranker(self, name: str, device: str, trust_remote_code: bool) -> LoadedModel:
        """Resolves and loads the reranker ``name``."""
        from explorer.inference.device import choose_device
        from explorer.models.resolution import load_reranker

        return load_reranker(name, choose_device(device), self.settings,  # type: ignore[arg-type]
                             trust_remote_code=trust_remote_code)

    def indexed(self, spec: PipelineSpec, progress: Progress | None) -> RetrievalPipeline:
        """Embeds (or reads from the embedding cache) and indexes the spec's corpus."""
        return index_corpus(self.dataset(spec.dataset),
                            self.bi_encoder(spec.bi_encoder_name, spec.device, spec.trust_remote_code),
                            spec.passages, self.settings, progress)

    def milvus(self, spec: PipelineSpec, progress: Progress | None) -> RetrievalPipeline:
        """Opens the spec's Milvus first stage."""
        return open_milvus(spec, self, self.settings, progress)


def open_milvus(spec: PipelineSpec, parts: PipelineParts, settings: Settings,
                progress: Progress | None = None) -> RetrievalPipeline:
    """The spec's corpus with its own Milvus collection as the ``milvus`` first stage (built once, then
    reopened), or, when the spec names a collection, that collection attached read-only with the data set's queries
    and labels."""
    from explorer.milvus_pipeline import attached_pipeline, milvus_target, with_corpus_collection

    target = milvus_target(spec.milvus, settings)
    if spec.milvus.attached:
        bi_encoder = parts.bi_encoder(spec.bi_encoder_name, spec.device, spec.trust_remote_code)
        return attached_pipeline(spec.milvus, target, bi_encoder, parts.dataset(spec.dataset))
    return with_corpus_collection(parts.indexed(spec, progress), target, settings, _told(progress, INSERTING))


def index_corpus(dataset: Dataset, bi_encoder: LoadedModel, passages: PassageOptions | None, settings: Settings,
                 progress: Progress | None = None) -> RetrievalPipeline:
    """The corpus embedded (embeddings kept in the cache folder) and indexed, without a reranker."""
    from explorer.retrieval.embedding_cache import EmbeddingCache

    return RetrievalPipeline.build(dataset, bi_encoder, None, EmbeddingCache(settings.cache_dir / "embeddings"),
                                   progress=_told(progress, EMBEDDING), passages=passages)


@dataclass(frozen=True)
class OpenPipeline:
    """A pipeline opened from a spec: the indexed corpus with the spec's reranker, and the blend weight."""

    spec: PipelineSpec
    pipeline: RetrievalPipeline
    blend: float  # the reranker's weight that the spec's blend rule gives this reranker

    @property
    def reranker(self) -> LoadedModel | None:
        """The reranker that runs (None: the first stage only)."""
        return self.pipeline.reranker

    def search(self, query: str) -> PipelineResult:
        """``query`` through both stages, as the spec says (depth, first-stage method, blend), then its signals."""
        result = self.pipeline.search(query, depth=self.spec.depth, blend=self.blend,
                                      first_stage_method=self.spec.first_stage_method)
        return self.pipeline.rank_with_signals(result, self.spec.signals)


def open_pipeline(spec: PipelineSpec, parts: PipelineParts, score_cache: ScoreCache | None,
                  progress: Progress | None = None) -> OpenPipeline:
    """The pipeline ``spec`` names. Reranker scores are kept in ``score_cache`` (None: every pair is scored)."""
    base = parts.milvus(spec, progress) if spec.first_stage_method == "milvus" else parts.indexed(spec, progress)
    name = spec.reranker_name
    reranker = parts.reranker(name, spec.device, spec.trust_remote_code) if name else None
    pipeline = base.with_reranker(reranker).with_score_cache(score_cache).with_window(spec.window)
    if spec.cascade is not None and reranker is not None:
        small = parts.reranker(model_name(spec.cascade.small, "reranker"), spec.device, spec.trust_remote_code)
        pipeline = pipeline.with_cascade(small, spec.cascade.keep)
    return OpenPipeline(spec, pipeline, spec.blend.weight_for(reranker.info if reranker else None))

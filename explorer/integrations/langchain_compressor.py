"""LangChain: the reranker of a pipeline file as a document compressor (langchain-core's ``BaseDocumentCompressor``).

A LangChain retriever finds the candidates; ``ExplorerReranker`` reorders them with the reranker chosen in the
explorer (or the file's cascade: a small reranker reads every document, the reranker only its best), keeps those the
file's threshold keeps, and returns the best ``top_n``. With signals in the file (freshness, authority, numbers,
diversity), the order is then the signals' final order, each Document's fields read from its ``metadata``. It needs
langchain-core (``pip install langchain-core``); the rest of the explorer does not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import ConfigDict, InstanceOf, field_validator, model_validator

from explorer.errors import ConfigError
from explorer.export.pipeline_file import ModelRef, PipelineFile, model_difference, read_pipeline_file
from explorer.models.info import LoadedModel
from explorer.rerank.cascade import MAIN, cascade_order, cascade_scores, scores_by_position
from explorer.rerank.scoring import order_by_score, score_pairs
from explorer.serving.signalled import active_signals, metadata_as_text, needs_vectors, rank_sent, sent_vectors
from explorer.settings import Settings
from explorer.signals.ranking import SignalledHit

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import BaseDocumentCompressor, Document
except ImportError as exc:
    raise ImportError("explorer.integrations.langchain_compressor plugs the explorer's reranker into LangChain and "
                      f"needs langchain-core, which cannot be imported here ({exc}). Install it: "
                      "pip install langchain-core") from exc

logger = logging.getLogger(__name__)

DEFAULT_TOP_N = 3


class ExplorerReranker(BaseDocumentCompressor):
    """Reranks LangChain documents with the explorer's reranker, as a pipeline file configures it.

    Each Document's ``page_content`` is scored against the query (``score_pairs``); the documents are ordered by the
    raw score, best first (ties keep the order they came in), those under the file's threshold are dropped, and at
    most ``top_n`` are returned. Each is a copy of the caller's Document whose metadata adds ``relevance_score`` (the
    raw score) and, for a reranker that gives one, ``probability``; the caller's Documents are left as they were.

    What the file holds that does not apply here, on purpose:

    - The blend. The explorer can mix the reranker's score with the first stage's; documents from a LangChain
      retriever carry no first-stage score on the explorer's scale (a vector store's distance, BM25 or none at all),
      so the order is the reranker's alone. A file that blends (reranker weight under 1) logs a warning saying so.
    - Passages. The reranker reads each Document as it is, up to its own token limit; split long documents first
      (a LangChain text splitter). A file with passages logs a warning saying so.

    With a cascade (the file's, or ``small_reranker`` and ``keep`` given), the small reranker scores every Document
    and the reranker only the small one's best ``keep``; those come first in the reranker's order, the rest follow in
    the small one's (``explorer.rerank.cascade``), ranked by each model's score alone as above. ``relevance_score`` is
    then the score of the model that placed the Document, and the metadata's ``scored_by`` says which ("main" or
    "small"); ``probability`` and the threshold are the reranker's, so a Document only the small reranker read has
    no probability and does not pass the threshold (the Search page's rule).

    Build it with ``from_pipeline_file``, or directly from a reranker already loaded
    (``ExplorerReranker(reranker=loaded, top_n=5)``: no threshold unless ``pipeline_file`` is given too; add
    ``small_reranker=small, keep=20`` for a cascade).

    With signals in the file (``PipelineFile.signals``, resolved against the corpus it was exported from), the
    documents are then reordered by them as the Search page reorders its list (``apply_signals``): relevance is the
    reranker's score normalised over the Documents given (by rank with a cascade), and each signal reads its field
    from the Document's ``metadata`` (values as the loaders keep them: text, numbers and booleans through ``str``); a
    Document without the field counts 0 (authority: its ``other`` weight). The threshold then drops what it drops,
    from that order. Each Document's metadata adds ``final_score`` and ``signal_contributions`` (the final score's
    parts by label, relevance included); ``relevance_score`` stays the reranker's. MMR diversity compares the
    Documents' vectors from the file's bi-encoder (``from_pipeline_file`` loads it; or give ``bi_encoder``).

    ``callbacks`` are accepted and not called: scoring is one model call, with nothing to report in between.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    reranker: InstanceOf[LoadedModel]
    top_n: int = DEFAULT_TOP_N
    # where the threshold comes from (None: every document is kept, up to top_n)
    pipeline_file: InstanceOf[PipelineFile] | None = None
    # a cascade: the small reranker reading every document, and how many of its best the reranker reads (None: the
    # reranker reads them all)
    small_reranker: InstanceOf[LoadedModel] | None = None
    keep: int | None = None
    # the bi-encoder whose vectors MMR diversity compares (needed only when the file's signals diversify with MMR)
    bi_encoder: InstanceOf[LoadedModel] | None = None

    @field_validator("top_n")
    @classmethod
    def _positive_top_n(cls, top_n: int) -> int:
        # ConfigError is not a ValueError, so pydantic lets it through as it is: the explorer's own error
        if top_n < 1:
            raise ConfigError(f"top_n is how many documents to return, at least 1; got {top_n}.")
        return top_n

    @field_validator("keep")
    @classmethod
    def _positive_keep(cls, keep: int | None) -> int | None:
        if keep is not None and keep < 1:
            raise ConfigError(f"keep is how many of the small reranker's best the reranker reads, at least 1; got "
                              f"{keep}.")
        return keep

    @model_validator(mode="after")
    def _cascade_whole(self) -> ExplorerReranker:
        if (self.small_reranker is None) != (self.keep is None):
            raise ConfigError("A cascade needs both a small reranker and keep (how many of its best the reranker "
                              "reads): give small_reranker=... and keep=..., or neither.")
        if self.pipeline_file is not None and needs_vectors(self.pipeline_file.signals) and self.bi_encoder is None:
            raise ConfigError("The pipeline file's signals diversify with MMR, which compares the Documents' "
                              "bi-encoder vectors: give bi_encoder=... (a loaded bi-encoder), or build the compressor "
                              "with ExplorerReranker.from_pipeline_file, which loads the file's.")
        return self

    @classmethod
    def from_pipeline_file(cls, path: str | Path, top_n: int = DEFAULT_TOP_N, settings: Settings | None = None,
                           device: str = "auto", reranker: LoadedModel | None = None,
                           trust_remote_code: bool = False, small_reranker: LoadedModel | None = None,
                           bi_encoder: LoadedModel | None = None) -> ExplorerReranker:
        """The compressor of the pipeline file at ``path``: its reranker (the name asked for, resolved as the
        explorer resolves it, on ``device``; ``settings`` default to the environment's), its threshold, its
        cascade, if it has one (the small reranker loaded likewise), and its signals, if it has them (with MMR
        diversity, the file's bi-encoder loaded likewise).

        ``reranker`` (``small_reranker``, ``bi_encoder``): a model already loaded, used instead of loading the
        file's. Either way, a model other than the exported one (another name, or other weights) is logged as a
        warning. A file without a reranker is refused with a ConfigError, and so is a ``small_reranker`` given for
        a file without a cascade."""
        file = read_pipeline_file(Path(path))
        if file.reranker is None:
            raise ConfigError(f"The pipeline file {path} has no reranker (it ranks with the first stage alone), so "
                              "it cannot rerank documents. Export a pipeline with a reranker from the explorer, or "
                              "build ExplorerReranker(reranker=...) from a reranker you loaded.")
        if small_reranker is not None and file.cascade is None:
            raise ConfigError(f"The pipeline file {path} has no cascade, so a small reranker has nothing to do. Leave "
                              "small_reranker out, export the pipeline with a cascade, or build "
                              "ExplorerReranker(reranker=..., small_reranker=..., keep=...) yourself.")
        settings = settings or Settings.from_env()
        if reranker is None:
            reranker = _load_reranker(file.reranker, settings, device, trust_remote_code)
        loaded = [("reranker", file.reranker, reranker)]
        keep = None
        if file.cascade is not None:
            if small_reranker is None:
                small_reranker = _load_reranker(file.cascade.small, settings, device, trust_remote_code)
            loaded.append(("small reranker", file.cascade.small, small_reranker))
            keep = file.cascade.keep
        if needs_vectors(file.signals):
            if bi_encoder is None:
                bi_encoder = _load_bi_encoder(file.bi_encoder, settings, device, trust_remote_code)
            if file.bi_encoder is not None:
                loaded.append(("bi-encoder", file.bi_encoder, bi_encoder))
        for role, wanted, model in loaded:
            difference = model_difference(role, wanted, model.info)
            if difference is not None:
                logger.warning("Pipeline file %s: %s; %s", path, difference, _DIFFERENCE_MEANS[role])
        for unused in _not_applied(file, reranker):
            logger.warning("Pipeline file %s: %s", path, unused)
        return cls(reranker=reranker, top_n=top_n, pipeline_file=file, small_reranker=small_reranker, keep=keep,
                   bi_encoder=bi_encoder)

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        """The best ``top_n`` of ``documents`` for ``query`` that the threshold keeps, best first, as scored copies."""
        documents = list(documents)
        if not documents:
            return []
        texts = [document.page_content for document in documents]
        small, keep = self.small_reranker, self.keep
        if small is not None and keep is not None:
            return self._cascaded(documents, query, texts, small, keep)
        scores = score_pairs(self.reranker, query, texts)
        raw = scores.raw
        kept = self.pipeline_file.kept(raw) if self.pipeline_file is not None else np.ones(len(raw), dtype=bool)
        order = order_by_score(raw.tolist())
        order, signalled = self._signalled(documents, texts, order, [float(raw[p]) for p in order])
        chosen = [position for position in order if kept[position]][:self.top_n]
        return [_scored(documents[position], float(raw[position]),
                        float(scores.probability[position]) if scores.probability is not None else None,
                        signalled=signalled.get(position))
                for position in chosen]

    def _signalled(self, documents: list[Document], texts: list[str], order: list[int],
                   scores: list[float] | None) -> tuple[list[int], dict[int, SignalledHit]]:
        """``order`` (positions in relevance order, ``scores`` theirs in that order, or None to go by rank) reordered
        by the file's signals, with each position's signalled result; without signals, ``order`` unchanged and no
        results."""
        config = active_signals(self.pipeline_file.signals) if self.pipeline_file is not None else None
        if config is None:
            return order, {}
        metadata = [metadata_as_text(document.metadata, f"Document {position}")
                    for position, document in enumerate(documents)]
        vectors = sent_vectors(self.bi_encoder, texts, "this compressor") if needs_vectors(config) else None
        ranking = rank_sent(order, scores, metadata, config, vectors)
        hits = {int(hit.doc_id): hit for hit in ranking.hits}
        return [int(hit.doc_id) for hit in ranking.hits], hits

    def _cascaded(self, documents: list[Document], query: str, texts: list[str], small: LoadedModel,
                  keep: int) -> list[Document]:
        """``compress_documents`` through the cascade of ``small`` and its best ``keep``: the small reranker ranks
        by its score alone (blend 1: the Documents carry no first-stage score on the explorer's scale), ties in the
        order given."""
        scores = cascade_scores(small, self.reranker, query, texts, keep, [0.0] * len(texts), 1.0)
        values, scored_by = scores_by_position(scores)
        order = cascade_order(scores.ranking, scores.main_positions, order_by_score(scores.main.raw.tolist()))
        # by rank: a cascade's list mixes two models' scales (as on the Search page)
        order, signalled = self._signalled(documents, texts, order, None)
        probability = dict(zip(scores.main_positions, scores.main.probability)) \
            if scores.main.probability is not None else {}
        # the threshold is on the reranker's scores: a Document only the small reranker read cannot pass it
        kept = self.pipeline_file.kept(values) if self.pipeline_file is not None else np.ones(len(values), dtype=bool)
        if self.pipeline_file is not None and self.pipeline_file.threshold is not None:
            kept &= np.array([by == MAIN for by in scored_by], dtype=bool)
        chosen = [position for position in order if kept[position]][:self.top_n]
        return [_scored(documents[position], float(values[position]),
                        float(probability[position]) if position in probability else None, scored_by[position],
                        signalled.get(position))
                for position in chosen]


_DIFFERENCE_MEANS = {"reranker": "its scores may not match the file's threshold.",
                     "small reranker": "it may pass other documents to the reranker than the exported one did.",
                     "bi-encoder": "MMR diversity may order similar documents otherwise than the exported one did."}


def _scored(document: Document, raw: float, probability: float | None, scored_by: str | None = None,
            signalled: SignalledHit | None = None) -> Document:
    """A copy of ``document`` with its scores in a new metadata dict (the caller's dict is not touched)."""
    added: dict[str, object] = {"relevance_score": raw}
    if probability is not None:
        added["probability"] = probability
    if scored_by is not None:  # a cascade: whose score relevance_score is
        added["scored_by"] = scored_by
    if signalled is not None:  # the file's signals: the final score and its parts by label
        added["final_score"] = signalled.total
        added["signal_contributions"] = dict(signalled.contributions)
    return document.model_copy(update={"metadata": {**document.metadata, **added}})


def _load_reranker(wanted: ModelRef, settings: Settings, device: str, trust_remote_code: bool) -> LoadedModel:
    """The reranker the file asked for, resolved and loaded as the explorer does (``DirectParts.reranker``)."""
    from explorer.inference.device import choose_device
    from explorer.models.resolution import load_reranker
    from explorer.spec import model_name

    return load_reranker(model_name(wanted.asked, "reranker"), choose_device(device),  # type: ignore[arg-type]
                         settings, trust_remote_code=trust_remote_code)


def _load_bi_encoder(wanted: ModelRef | None, settings: Settings, device: str,
                     trust_remote_code: bool) -> LoadedModel:
    """The bi-encoder the file asked for (the default where it names none, as ``PipelineFile.spec`` opens it),
    resolved and loaded as the explorer does (``DirectParts.bi_encoder``)."""
    from explorer.inference.device import choose_device
    from explorer.models.resolution import load_bi_encoder
    from explorer.spec import model_name

    return load_bi_encoder(model_name(wanted.asked if wanted else "default", "bi-encoder"),
                           choose_device(device), settings,  # type: ignore[arg-type]
                           trust_remote_code=trust_remote_code)


def _not_applied(file: PipelineFile, reranker: LoadedModel) -> list[str]:
    """What the file configures that a document compressor does not do (see ``ExplorerReranker``)."""
    found = []
    if file.blend.mode != "alone" and file.blend.weight < 1.0:
        found.append(f"it blends the reranker (weight {file.blend.weight:g}) with the first stage, but LangChain's "
                     "documents carry no first-stage score on the explorer's scale, so they are ordered by the "
                     "reranker's score alone.")
    if file.passages is not None:
        found.append(f"it splits documents into passages of {file.passages.max_tokens} tokens, but here the reranker "
                     f"reads each Document's page_content whole, up to its limit of {reranker.engine.max_length} "
                     "tokens; split long documents first (with a LangChain text splitter).")
    if file.window is not None:
        found.append(f"its reranker reads each long document's best {file.window.max_tokens}-token window for the "
                     "query, but here it reads each Document's page_content from its start, up to its limit of "
                     f"{reranker.engine.max_length} tokens; split long documents first (with a LangChain text "
                     "splitter) to read less.")
    return found

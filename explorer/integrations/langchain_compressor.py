"""LangChain: the reranker of a pipeline file as a document compressor (langchain-core's ``BaseDocumentCompressor``).

A LangChain retriever finds the candidates; ``ExplorerReranker`` reorders them with the reranker chosen in the
explorer, keeps those the file's threshold keeps, and returns the best ``top_n``. It needs langchain-core
(``pip install langchain-core``); the rest of the explorer does not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import ConfigDict, InstanceOf, field_validator

from explorer.errors import ConfigError
from explorer.export.pipeline_file import ModelRef, PipelineFile, model_difference, read_pipeline_file
from explorer.models.info import LoadedModel
from explorer.rerank.scoring import order_by_score, score_pairs
from explorer.settings import Settings

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

    Build it with ``from_pipeline_file``, or directly from a reranker already loaded
    (``ExplorerReranker(reranker=loaded, top_n=5)``: no threshold unless ``pipeline_file`` is given too).
    ``callbacks`` are accepted and not called: scoring is one model call, with nothing to report in between.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    reranker: InstanceOf[LoadedModel]
    top_n: int = DEFAULT_TOP_N
    # where the threshold comes from (None: every document is kept, up to top_n)
    pipeline_file: InstanceOf[PipelineFile] | None = None

    @field_validator("top_n")
    @classmethod
    def _positive_top_n(cls, top_n: int) -> int:
        # ConfigError is not a ValueError, so pydantic lets it through as it is: the explorer's own error
        if top_n < 1:
            raise ConfigError(f"top_n is how many documents to return, at least 1; got {top_n}.")
        return top_n

    @classmethod
    def from_pipeline_file(cls, path: str | Path, top_n: int = DEFAULT_TOP_N, settings: Settings | None = None,
                           device: str = "auto", reranker: LoadedModel | None = None,
                           trust_remote_code: bool = False) -> ExplorerReranker:
        """The compressor of the pipeline file at ``path``: its reranker (the name asked for, resolved as the
        explorer resolves it, on ``device``; ``settings`` default to the environment's) and its threshold.

        ``reranker``: a reranker already loaded, used instead of loading the file's. Either way, a model other than
        the exported one (another name, or other weights) is logged as a warning. A file without a reranker is
        refused with a ConfigError."""
        file = read_pipeline_file(Path(path))
        if file.reranker is None:
            raise ConfigError(f"The pipeline file {path} has no reranker (it ranks with the first stage alone), so "
                              "it cannot rerank documents. Export a pipeline with a reranker from the explorer, or "
                              "build ExplorerReranker(reranker=...) from a reranker you loaded.")
        if reranker is None:
            reranker = _load_reranker(file.reranker, settings or Settings.from_env(), device, trust_remote_code)
        difference = model_difference("reranker", file.reranker, reranker.info)
        if difference is not None:
            logger.warning("Pipeline file %s: %s; its scores may not match the file's threshold.", path, difference)
        for unused in _not_applied(file, reranker):
            logger.warning("Pipeline file %s: %s", path, unused)
        return cls(reranker=reranker, top_n=top_n, pipeline_file=file)

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        """The best ``top_n`` of ``documents`` for ``query`` that the threshold keeps, best first, as scored copies."""
        documents = list(documents)
        if not documents:
            return []
        scores = score_pairs(self.reranker, query, [document.page_content for document in documents])
        raw = scores.raw
        kept = self.pipeline_file.kept(raw) if self.pipeline_file is not None else np.ones(len(raw), dtype=bool)
        chosen = [position for position in order_by_score(raw.tolist()) if kept[position]][:self.top_n]
        return [_scored(documents[position], float(raw[position]),
                        float(scores.probability[position]) if scores.probability is not None else None)
                for position in chosen]


def _scored(document: Document, raw: float, probability: float | None) -> Document:
    """A copy of ``document`` with its scores in a new metadata dict (the caller's dict is not touched)."""
    added: dict[str, float] = {"relevance_score": raw}
    if probability is not None:
        added["probability"] = probability
    return document.model_copy(update={"metadata": {**document.metadata, **added}})


def _load_reranker(wanted: ModelRef, settings: Settings, device: str, trust_remote_code: bool) -> LoadedModel:
    """The reranker the file asked for, resolved and loaded as the explorer does (``DirectParts.reranker``)."""
    from explorer.inference.device import choose_device
    from explorer.models.resolution import load_reranker
    from explorer.spec import model_name

    return load_reranker(model_name(wanted.asked, "reranker"), choose_device(device),  # type: ignore[arg-type]
                         settings, trust_remote_code=trust_remote_code)


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
    return found

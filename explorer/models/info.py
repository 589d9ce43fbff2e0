"""What a loaded model is: the model object, what was asked for and what ran, and the engine that runs it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from explorer.inference.device import DeviceChoice
from explorer.inference.engine import InferenceEngine

# "remote": scored by a service over HTTP (a vendor's rerank API or a rerank endpoint; see explorer.remote)
Source = Literal["local path", "local cache", "hub", "packaged", "trained here", "remote"]


@dataclass(frozen=True)
class ModelInfo:
    """What was asked for, what actually loaded, where it came from and why: the page never hides a fallback."""

    requested: str
    loaded: str
    source: Source
    note: str
    trained_for_relevance: bool = True
    # A 0-1 probability (sigmoid of one logit) is meaningful only for a single-logit trained reranker.
    has_probability: bool = False
    fingerprint: str = ""
    # prefixes some bi-encoders were trained with (e5: "query: " / "passage: "), from the catalog
    query_prefix: str = ""
    document_prefix: str = ""
    # the blend weight (reranker vs first stage) that did best on held-out queries; 1.0 = reranker alone
    recommended_blend: float = 1.0

    @property
    def display_name(self) -> str:
        """The model that runs, with the name asked for beside it when another model stands in (a folder asked
        for by a relative path is the folder that loaded, written out in full)."""
        if self.source == "local path" or self.requested.strip() in ("", self.loaded):
            return self.loaded
        return f"{self.loaded} (asked for {self.requested})"


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to run: the sentence-transformers object, its description, its device and its engine.

    The engine (length-sorted batches, bf16 or int8 where the CPU has them) belongs to the loaded model, so
    whoever holds the model runs it the way it was loaded. Without one, a plain engine is made (PyTorch, no
    converted graphs kept on disk)."""

    model: Any  # SentenceTransformer or CrossEncoder
    info: ModelInfo
    device: DeviceChoice
    engine: InferenceEngine = field(default=None, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.engine is None:
            object.__setattr__(self, "engine", InferenceEngine(self.model, self.device))

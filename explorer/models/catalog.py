"""Named model presets with their size and an expected speed on this kind of machine.

Any other hub id or local folder can be typed in as well; the catalog only saves looking names up.
Speeds are estimates scaled from one measurement here (MiniLM-L6, 2 CPU cores, bf16: about 90 pairs of
~200 tokens per second), by the number of transformer weights each pair passes through; the benchmark
(`python -m explorer bench`, when it lands) measures them for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from explorer.errors import ConfigError

Role = Literal["bi-encoder", "reranker"]
MEASURED_PAIRS_PER_S = 90.0  # MiniLM-L6 (22.7 M parameters, 6 layers), 2 cores, bf16
MEASURED_PARAMS_M = 22.7


@dataclass(frozen=True)
class ModelPreset:
    """A model offered by name: role, size (millions of parameters), layers, a summary and the prefixes it expects."""

    name: str
    role: Role
    params_m: float
    layers: int
    summary: str
    query_prefix: str = ""
    document_prefix: str = ""

    @property
    def expected_per_second(self) -> float:
        """Estimated pairs (reranker) or texts (bi-encoder) per second on 2 CPU cores."""
        return MEASURED_PAIRS_PER_S * MEASURED_PARAMS_M / self.params_m

    @property
    def label(self) -> str:
        """Name, size and estimated speed in one line, for model pickers."""
        unit = "pairs" if self.role == "reranker" else "texts"
        return f"{self.name} · {self.params_m:g} M params · ~{self.expected_per_second:,.0f} {unit}/s on 2 CPU cores (est.)"


CATALOG: tuple[ModelPreset, ...] = (
    ModelPreset("cross-encoder/ms-marco-MiniLM-L-6-v2", "reranker", 22.7, 6,
                "MS MARCO cross-encoder; the usual default: good quality for its speed."),
    ModelPreset("cross-encoder/ms-marco-TinyBERT-L-2-v2", "reranker", 4.4, 2,
                "Smallest MS MARCO cross-encoder; fastest, noticeably weaker."),
    ModelPreset("cross-encoder/ms-marco-MiniLM-L-12-v2", "reranker", 33.4, 12,
                "Twice the depth of L-6; a little better, about half the speed."),
    ModelPreset("cross-encoder/ms-marco-electra-base", "reranker", 110.0, 12, "ELECTRA-base cross-encoder."),
    ModelPreset("BAAI/bge-reranker-base", "reranker", 278.0, 12, "Multilingual (XLM-R base) reranker."),
    ModelPreset("BAAI/bge-reranker-v2-m3", "reranker", 568.0, 24, "Large multilingual reranker; wants a GPU."),
    ModelPreset("mixedbread-ai/mxbai-rerank-xsmall-v1", "reranker", 70.8, 12, "DeBERTa-v3 xsmall reranker."),
    ModelPreset("mixedbread-ai/mxbai-rerank-base-v1", "reranker", 184.0, 12, "DeBERTa-v3 base reranker."),
    ModelPreset("sentence-transformers/all-MiniLM-L6-v2", "bi-encoder", 22.7, 6,
                "General-purpose English sentence encoder, 384 dimensions; packaged here for offline use."),
    ModelPreset("BAAI/bge-small-en-v1.5", "bi-encoder", 33.4, 12, "English retrieval encoder, 384 dimensions.",
                query_prefix="Represent this sentence for searching relevant passages: "),
    ModelPreset("intfloat/e5-small-v2", "bi-encoder", 33.4, 12, "English retrieval encoder, 384 dimensions.",
                query_prefix="query: ", document_prefix="passage: "),
    ModelPreset("sentence-transformers/all-mpnet-base-v2", "bi-encoder", 109.0, 12,
                "Stronger general-purpose encoder, 768 dimensions."),
)


def presets(role: Role) -> list[ModelPreset]:
    """The catalog's presets for ``role``, in catalog order."""
    return [preset for preset in CATALOG if preset.role == role]


def find_preset(name: str) -> ModelPreset | None:
    """The preset with exactly this name, or None."""
    return next((preset for preset in CATALOG if preset.name == name), None)


def preset(name: str) -> ModelPreset:
    """The preset with this name; raises ConfigError listing the presets when there is none."""
    found = find_preset(name)
    if found is None:
        known = ", ".join(p.name for p in CATALOG)
        raise ConfigError(f"No preset called {name!r}. Presets: {known}. Any hub id or local folder also works.")
    return found

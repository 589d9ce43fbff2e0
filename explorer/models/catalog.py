"""Named model presets with their size, and a speed figure scaled from a measurement on this machine.

Any other hub id or local folder can be typed in as well; the catalog only saves looking names up.
A preset's speed is the speed measured here for a model of the same role (``explorer.models.measured_speed``: the
app's warm-up times the default models), scaled by the number of transformer weights each text passes through;
before anything was measured here, the label says so instead of guessing. ``python -m explorer bench`` measures
models for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from explorer.errors import ConfigError

if TYPE_CHECKING:
    from explorer.models.measured_speed import MeasuredSpeed

Role = Literal["bi-encoder", "reranker"]


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

    def expected_per_second(self, measured: "MeasuredSpeed") -> float:
        """Estimated pairs (reranker) or texts (bi-encoder) per second here, scaled from ``measured``."""
        return measured.per_second * measured.params_m / self.params_m

    def label(self, measured: "MeasuredSpeed | None" = None) -> str:
        """Name, size and the speed estimated from ``measured`` (a speed measured on this machine) in one line, for
        model pickers; without a measurement, the label says the speed is not known yet."""
        unit = "pairs" if self.role == "reranker" else "texts"
        if measured is None:
            return f"{self.name} · {self.params_m:g} M params · speed not measured here yet"
        if measured.model == self.name:
            return f"{self.name} · {self.params_m:g} M params · {measured.per_second:,.0f} {unit}/s measured here"
        return (f"{self.name} · {self.params_m:g} M params · ~{self.expected_per_second(measured):,.0f} {unit}/s here "
                "(est. from the size)")


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
    # 2025-26 small rerankers (sizes from their model cards)
    ModelPreset("cross-encoder/ettin-reranker-17m-v1", "reranker", 16.8, 7,
                "Ettin (ModernBERT) reranker, distilled from mxbai-rerank-large-v2; the smallest, long inputs."),
    ModelPreset("cross-encoder/ettin-reranker-32m-v1", "reranker", 31.9, 10, "Ettin (ModernBERT) reranker, 32 M."),
    ModelPreset("cross-encoder/ettin-reranker-68m-v1", "reranker", 68.1, 19, "Ettin (ModernBERT) reranker, 68 M."),
    ModelPreset("cross-encoder/ettin-reranker-150m-v1", "reranker", 150.0, 22,
                "Ettin (ModernBERT-base size) reranker; strong for its size."),
    ModelPreset("Alibaba-NLP/gte-reranker-modernbert-base", "reranker", 149.0, 22,
                "GTE reranker on ModernBERT-base; inputs up to 8,192 tokens."),
    ModelPreset("mixedbread-ai/mxbai-rerank-base-v2", "reranker", 494.0, 24,
                "mxbai v2 reranker (Qwen2.5-0.5B base); multilingual, large for a CPU."),
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

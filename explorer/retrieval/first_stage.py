"""The first-stage methods: how candidates are pulled before the reranker reads them.

``dense`` searches the bi-encoder's vectors (FAISS), ``bm25`` the words (bm25s), and ``hybrid`` fuses both
by reciprocal rank (``explorer.retrieval.fusion``). What they return, the ranked hits, is "the first stage"
everywhere else; the choice among them is the first-stage *method*.
"""

from __future__ import annotations

from typing import Literal

from explorer.errors import ConfigError

FirstStageMethod = Literal["dense", "bm25", "hybrid"]
FIRST_STAGE_METHODS: tuple[FirstStageMethod, ...] = ("dense", "bm25", "hybrid")
# Hybrid fuses this many candidates (at least) from each of dense and BM25 before keeping ``depth``.
HYBRID_POOL = 100


def check_first_stage_method(method: str) -> None:
    """Raises ConfigError naming the valid methods when ``method`` is not one of them."""
    if method not in FIRST_STAGE_METHODS:
        raise ConfigError(f"Unknown first stage {method!r}; choose one of: {', '.join(FIRST_STAGE_METHODS)}.")


def uses_bi_encoder(method: FirstStageMethod) -> bool:
    """Whether the method needs the query encoded by the bi-encoder (BM25 alone does not)."""
    return method != "bm25"

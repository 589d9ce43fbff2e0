"""The first stage: how candidates are pulled before the reranker reads them.

Every first stage implements ``FirstStage``: ``search(query, query_vector, k)`` returns the top ``k`` hits with
their scores, and ``description`` says what answers (for the index report). ``dense`` searches the bi-encoder's
vectors with FAISS, ``bm25`` the words (bm25s), ``hybrid`` fuses both by reciprocal rank, and ``milvus`` asks a
Milvus collection (milvus-lite in the workspace, a server, or the user's own collection attached as it is). The
implementations are in ``explorer.retrieval.stages`` and ``explorer.retrieval.milvus_*``; the pipeline, the pages,
evaluation and the command line reach them only through this interface and the method names below.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from explorer.errors import ConfigError
from explorer.records import Hit

FirstStageMethod = Literal["dense", "bm25", "hybrid", "milvus"]
FIRST_STAGE_METHODS: tuple[FirstStageMethod, ...] = ("dense", "bm25", "hybrid", "milvus")
# Hybrid fuses this many candidates (at least) from each of dense and BM25 before keeping ``depth``.
HYBRID_POOL = 100


class FirstStage(Protocol):
    """One way to pull candidates. ``query_vector`` is the bi-encoder's encoding of ``query`` (None when
    ``needs_vector`` is False); the hits are best first, ranked from 1, at most ``k`` of them."""

    method: FirstStageMethod
    needs_vector: bool

    @property
    def description(self) -> str:
        """What answers, in words: backend, index kind and size."""

    def search(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """The top ``k`` hits for the query."""


def check_first_stage_method(method: str) -> None:
    """Raises ConfigError naming the valid methods when ``method`` is not one of them."""
    if method not in FIRST_STAGE_METHODS:
        raise ConfigError(f"Unknown first stage {method!r}; choose one of: {', '.join(FIRST_STAGE_METHODS)}.")


def uses_bi_encoder(method: FirstStageMethod) -> bool:
    """Whether the method needs the query encoded by the bi-encoder (BM25 alone does not)."""
    return method != "bm25"

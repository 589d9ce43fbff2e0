"""The engine of a remote reranker: what ``explorer.rerank.scoring.score_pairs`` asks of an engine
(``info``, ``run_shared``, ``max_length``, ``token``), answered by HTTP requests instead of a model.

Pairs are grouped by query; each query is one request (several when it has more documents than the API takes in
one), and the scores are mapped back to the pairs by the index the service returns. Nothing here is prepared or
upgraded in the background, so the page's preparation notes and the evaluation's wait return at once.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.inference.backends import EngineInfo
from explorer.inference.engine import EngineOutput
from explorer.remote.client import RerankClient
from explorer.remote.formats import RerankFormat
from explorer.remote.names import RemoteName

logger = logging.getLogger(__name__)


class RemoteEngine:
    """Scores (query, document) pairs with a rerank API; duck-types ``explorer.inference.engine.InferenceEngine``
    for scoring. Several sessions may call it at once: each call makes its own requests."""

    # The service reads and truncates on its own side: no token count is known here, so none is reported cut.
    max_length = 0
    is_prepared = True
    upgrading = None
    preparing_note = "The reranker runs behind a remote API: nothing to prepare here."

    def __init__(self, remote: RemoteName, client: RerankClient, answer_format: RerankFormat) -> None:
        self.remote = remote
        self.client = client
        self.format = answer_format
        # stable across processes and free of any key, so scores kept in the score cache are found again
        self.token = f"remote:{remote.name}"
        self._reported = ""  # the model a rerank-api service said it ran, last time

    def __repr__(self) -> str:
        return f"RemoteEngine({self.remote.name!r} at {self.client.host})"

    def info(self) -> EngineInfo:
        """Where the scores come from (for the page and the score cache's key): e.g. "remote · Cohere API"."""
        what = f"{self.remote.title} API"
        if self.remote.vendor == "rerank-api":
            # a service may change the model behind its URL: the model it reports keeps their scores apart
            what = "rerank API" + (f" · {self._reported}" if self._reported else "")
        return EngineInfo("remote", what, f"Scored by {self.client.endpoint}: one request per query, so the time "
                                          "includes the network.")

    def settled(self, timeout: float | None = None) -> EngineInfo:
        """``info()``: a remote reranker has nothing to prepare in the background."""
        return self.info()

    def run_shared(self, inputs: Sequence[Any], output: str) -> EngineOutput:
        """``run``: requests of several sessions go out side by side, so there is nothing to share."""
        return self.run(inputs, output)

    def run(self, inputs: Sequence[Any], output: str, progress: Any = None,
            max_batch: int | None = None) -> EngineOutput:
        """The score of every (query, document) pair in ``inputs``, in input order. Only ``output="scores"``."""
        if output != "scores":
            raise ConfigError(f"A remote reranker gives scores only, not {output!r}.")
        values = np.zeros(len(inputs), dtype=np.float32)
        by_query: dict[str, list[int]] = {}
        for position, (query, _document) in enumerate(inputs):
            by_query.setdefault(query, []).append(position)
        for query, positions in by_query.items():
            values[positions] = self.score(query, [inputs[p][1] for p in positions])
        # -1: tokens read are not known here (see max_length), so no pair counts as truncated
        lengths = np.full(len(inputs), -1, dtype=np.int64)
        return EngineOutput(values, lengths, self.max_length, self.info() if len(inputs) else None)

    def score(self, query: str, documents: Sequence[str]) -> np.ndarray:
        """The service's score of each document for ``query``, in order (several requests past its limit)."""
        limit = self.format.documents_limit
        scores = np.zeros(len(documents), dtype=np.float32)
        for start in range(0, len(documents), limit):
            chunk = list(documents[start:start + limit])
            answer = self.client.post(self.format.build(self.remote.model, query, chunk))
            scores[start:start + len(chunk)] = self.format.scores(answer, len(chunk), self.client.host)
            reported = self.format.reported_model(answer)
            if reported and self.remote.vendor == "rerank-api":
                self._reported = reported
        logger.debug("%s scored %d documents", self.remote.name, len(documents))
        return scores

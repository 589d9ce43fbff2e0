"""What each rerank API is sent and answers (from the vendors' public API references), as plain functions.

- Cohere v2: ``POST {base}/v2/rerank`` ``{model, query, documents: [str], top_n}`` ->
  ``{id, results: [{index, relevance_score}], meta}``.
- Jina: ``POST {base}/v1/rerank`` ``{model, query, documents, top_n, return_documents}`` ->
  ``{model, usage, results: [{index, relevance_score, document?}]}``.
- Voyage: ``POST {base}/v1/rerank`` ``{query, documents, model, top_k}`` ->
  ``{object: "list", data: [{index, relevance_score}], model, usage}``.
- rerank API (``rerank-api:URL``; this project's ``serve`` among them): ``POST {URL}/v1/rerank``
  ``{query, documents, top_n, return_documents}`` -> ``{results: [{index, relevance_score, probability?}], model?,
  fallback?, fallback_reason?}``. For the explorer's own service ``relevance_score`` is the reranker's raw score; an
  answer marked ``fallback`` holds first-stage positions, not reranker scores, and is refused.

Every document is asked for (``top_n``/``top_k`` = their number) and must come back exactly once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from explorer.errors import RemoteServiceError
from explorer.remote.names import Vendor

Body = dict[str, Any]


@dataclass(frozen=True)
class RerankFormat:
    """One API's request and answer: how to ask for scores and where they are in the answer."""

    vendor: Vendor
    build: Callable[[str, str, Sequence[str]], Body]  # (model, query, documents) -> request body
    results_field: str  # the list of {index, relevance_score} in the answer
    # documents per request: more are sent in several requests (Cohere and Voyage document 1,000 at most)
    documents_limit: int = 1000

    def scores(self, answer: Any, count: int, where: str) -> np.ndarray:
        """The score of each of the ``count`` documents, in request order, from an ``answer``; RemoteServiceError
        when it is not a complete answer (``where`` names the service in the message)."""
        if not isinstance(answer, dict):
            raise RemoteServiceError(f"{where} answered with JSON that is not an object; is it a rerank API?")
        if self.vendor == "rerank-api" and answer.get("fallback") is True:
            reason = str(answer.get("fallback_reason") or "no reason given")[:300]
            raise RemoteServiceError(
                f"{where} answered with its fallback order ({reason}): its reranker did not score these documents, "
                "so their scores are not reranker scores and are not shown as such. Check the service (its reranker "
                "failed or ran out of time), or try again.")
        items = answer.get(self.results_field)
        if not isinstance(items, list):
            raise RemoteServiceError(f"{where} answered without a '{self.results_field}' list; is it the "
                                     f"{self.vendor} rerank API?")
        scores = np.full(count, np.nan, dtype=np.float64)
        for item in items:
            index, score = _index_and_score(item, where)
            if not 0 <= index < count:
                raise RemoteServiceError(f"{where} answered with the index {index}, but {count} documents were sent.")
            if not math.isnan(scores[index]):
                raise RemoteServiceError(f"{where} answered twice for the document at index {index}.")
            scores[index] = score
        missing = int(np.isnan(scores).sum())
        if missing:
            raise RemoteServiceError(f"{where} answered for {count - missing} of the {count} documents sent; every "
                                     "document needs a score. Check the service's limits on documents per request.")
        return scores.astype(np.float32)

    def reported_model(self, answer: Any) -> str:
        """The model the service says it ran ("" when it does not say)."""
        model = answer.get("model") if isinstance(answer, dict) else None
        return model.strip()[:120] if isinstance(model, str) else ""


def _index_and_score(item: Any, where: str) -> tuple[int, float]:
    if not isinstance(item, dict):
        raise RemoteServiceError(f"{where} answered with a result that is not an object.")
    index, score = item.get("index"), item.get("relevance_score")
    if isinstance(index, bool) or not isinstance(index, int):
        raise RemoteServiceError(f"{where} answered with a result without an integer 'index'.")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise RemoteServiceError(f"{where} answered without a finite 'relevance_score' for the document at index "
                                 f"{index}.")
    return index, float(score)


def _cohere(model: str, query: str, documents: Sequence[str]) -> Body:
    return {"model": model, "query": query, "documents": list(documents), "top_n": len(documents)}


def _jina(model: str, query: str, documents: Sequence[str]) -> Body:
    return {"model": model, "query": query, "documents": list(documents), "top_n": len(documents),
            "return_documents": False}


def _voyage(model: str, query: str, documents: Sequence[str]) -> Body:
    return {"query": query, "documents": list(documents), "model": model, "top_k": len(documents)}


def _rerank_api(model: str, query: str, documents: Sequence[str]) -> Body:
    return {"query": query, "documents": list(documents), "top_n": len(documents), "return_documents": False}


FORMATS: dict[Vendor, RerankFormat] = {
    "cohere": RerankFormat("cohere", _cohere, "results"),
    "jina": RerankFormat("jina", _jina, "results"),
    "voyage": RerankFormat("voyage", _voyage, "data"),
    "rerank-api": RerankFormat("rerank-api", _rerank_api, "results"),
}

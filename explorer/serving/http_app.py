"""The HTTP doors of the service (FastAPI): ``POST /v1/rerank`` in the request and response shape of Cohere's and
Jina's rerank APIs, ``POST /v1/search`` for both stages, ``GET /health`` and ``GET /metrics`` (Prometheus).

Bodies are read here, not by FastAPI's parser, so that every bad request gets a 4xx that says what is wrong: a body
over the size limit (413), not UTF-8 or not JSON (400), fields of the wrong type or missing (400, each problem
named by its field), sizes over the limits (400). A full service answers 503 with Retry-After.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError
from starlette.concurrency import run_in_threadpool

from explorer.errors import ConfigError
from explorer.serving.metrics import CONTENT_TYPE
from explorer.serving.service import Answer, RerankService, ServiceBusy


class BadRequest(Exception):
    """A request the service refuses, with the HTTP status to answer and what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DocumentObject(BaseModel):
    """A document given as an object, as Cohere's and Jina's APIs accept it."""

    model_config = ConfigDict(extra="ignore")
    text: StrictStr


class RerankRequest(BaseModel):
    """``POST /v1/rerank``: ``model`` is accepted and not used (the service runs its pipeline file's reranker)."""

    model_config = ConfigDict(extra="ignore")
    query: StrictStr
    documents: list[StrictStr | DocumentObject]
    top_n: StrictInt | None = None
    return_documents: StrictBool = False
    model: StrictStr | None = None

    def texts(self) -> list[str]:
        """The documents' texts, in order."""
        return [doc if isinstance(doc, str) else doc.text for doc in self.documents]


class SearchRequest(BaseModel):
    """``POST /v1/search``: the query through both stages of the pipeline file."""

    model_config = ConfigDict(extra="ignore")
    query: StrictStr
    top_n: StrictInt | None = None
    return_documents: StrictBool = False


def create_app(service: RerankService) -> FastAPI:
    """The service's HTTP application."""
    app = FastAPI(title="relevance explorer: reranking service", docs_url=None, redoc_url=None)
    limits = service.limits

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        service.metrics.refused_as(exc.status)
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(ServiceBusy)
    async def busy(_: Request, exc: ServiceBusy) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after_s)})

    @app.post("/v1/rerank")
    async def rerank(request: Request) -> JSONResponse:
        parsed = _parsed(RerankRequest, await _json_body(request, limits.max_body_bytes))
        texts = parsed.texts()
        with service.admitted():
            answer = await _answered(service.rerank, parsed.query, texts, parsed.top_n)
        results = []
        for item in answer.results:
            result: dict[str, Any] = {"index": item.index, "relevance_score": item.relevance_score}
            if item.probability is not None:
                result["probability"] = item.probability
            if item.above_threshold is not None:
                result["above_threshold"] = item.above_threshold
            if parsed.return_documents:
                result["document"] = {"text": texts[item.index]}
            results.append(result)
        return JSONResponse({"id": answer.request_id, "model": service.model_name, "results": results,
                             **_fallback(answer), "timings_ms": answer.timings_ms,
                             "meta": {"billed_units": {"search_units": 1}}})

    @app.post("/v1/search")
    async def search(request: Request) -> JSONResponse:
        parsed = _parsed(SearchRequest, await _json_body(request, limits.max_body_bytes))
        with service.admitted():
            answer = await _answered(service.search, parsed.query, parsed.top_n)
        dataset = service.opened.pipeline.dataset
        results = []
        for hit in answer.results:
            result = {"id": hit.doc_id, "rank": hit.rank, "relevance_score": hit.relevance_score,
                      "probability": hit.probability, "ranking_score": hit.ranking_score,
                      "first_stage_rank": hit.first_stage_rank, "first_stage_score": hit.first_stage_score}
            if hit.passage_id is not None:
                result["passage_id"] = hit.passage_id
            if parsed.return_documents:
                document = dataset.document(hit.doc_id)
                result["document"] = {"title": document.title, "text": document.text}
            results.append(result)
        return JSONResponse({"id": answer.request_id, "model": service.model_name, "results": results,
                             **_fallback(answer), "dropped_by_threshold": answer.dropped_by_threshold,
                             "timings_ms": answer.timings_ms})

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse(service.health())

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(service.metrics.text(), media_type=CONTENT_TYPE)

    return app


async def _answered(call: Any, *args: Any) -> Answer:
    """``call(*args)`` on a worker thread (it blocks on the models); a ConfigError is the client's mistake."""
    try:
        return await run_in_threadpool(call, *args)
    except ConfigError as exc:
        raise BadRequest(400, str(exc)) from None


def _fallback(answer: Answer) -> dict[str, Any]:
    return {"fallback": answer.fallback, **({"fallback_reason": answer.reason} if answer.fallback else {})}


async def _json_body(request: Request, max_bytes: int) -> Any:
    """The request's JSON, read at most ``max_bytes`` far."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(413, f"The body has {int(declared):,} bytes; at most {max_bytes:,} are accepted.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BadRequest(413, f"The body is over {max_bytes:,} bytes, the most accepted.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise BadRequest(400, "The body is empty; send a JSON object.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"The body is not UTF-8 (byte {exc.start}); send JSON in UTF-8.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(400, f"The body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None


def _parsed(model: type[BaseModel], body: Any) -> Any:
    if not isinstance(body, dict):
        raise BadRequest(400, f"The body must be a JSON object, not {type(body).__name__}.")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(400, "The request is not valid: " + "; ".join(_problems(exc))) from None


def _problems(exc: ValidationError) -> list[str]:
    """Each problem by its field, once: a document that is neither a string nor an object with a text is one
    problem, not one per form it could have taken."""
    problems: list[str] = []
    for error in exc.errors():
        place = [str(part) for part in error["loc"]]
        if place and place[-1] in ("str", DocumentObject.__name__):
            problem = f"{'.'.join(place[:-1])}: should be a string, or an object with a 'text' string"
        else:
            problem = f"{'.'.join(place) or 'body'}: {error['msg']}"
        if problem not in problems:
            problems.append(problem)
    return problems[:10]

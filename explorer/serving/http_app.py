"""The HTTP doors of the service (FastAPI): ``POST /v1/rerank`` in the request and response shape of Cohere's v1 and
Jina's rerank APIs, ``POST /v2/rerank`` in that of Cohere's v2 API (what ``cohere.ClientV2`` and LangChain's
``CohereRerank`` post), ``POST /v1/search`` for both stages, ``GET /health`` and ``GET /metrics`` (Prometheus).

Bodies are read here, not by FastAPI's parser, so that every bad request gets a 4xx that says what is wrong: a body
over the size limit (413), not UTF-8, not JSON, nested deeper than the limit or holding a lone surrogate (400),
fields of the wrong type or missing (400, each problem named by its field), sizes over the limits (400). A full
service answers 503 with Retry-After.

With signals in the pipeline file, answers are in the signals' final order and each result adds ``final_score``,
``signals`` (the final score's parts by label, relevance included) and ``relevance_rank`` (its place by relevance
alone); the answer adds ``signals`` (``described``, and what ``relevance`` was). ``relevance_score`` stays the
reranker's raw score. ``/v1/rerank`` reads each document object's ``metadata`` (field -> string, number or boolean)
for the signals; ``/v1/search`` returns the corpus's metadata ``fields`` a request names.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import numpy as np

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError
from starlette.concurrency import run_in_threadpool

from explorer.errors import ConfigError
from explorer.serving.metrics import CONTENT_TYPE
from explorer.serving.service import Answer, RerankService, ServiceBusy, SignalScore


class BadRequest(Exception):
    """A request the service refuses, with the HTTP status to answer and what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DocumentObject(BaseModel):
    """A document given as an object, as Cohere's and Jina's APIs accept it; ``metadata`` (field -> value) is read
    only when the pipeline file has signals, and checked then (``explorer.serving.signalled.metadata_as_text``)."""

    model_config = ConfigDict(extra="ignore")
    text: StrictStr
    metadata: Any = None


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

    def metadata(self) -> list[Any]:
        """The documents' metadata as sent, in order (None for a string, or an object without it)."""
        return [None if isinstance(doc, str) else doc.metadata for doc in self.documents]


class RerankV2Request(BaseModel):
    """``POST /v2/rerank``, Cohere's v2 shape: documents are strings; ``model`` is accepted and not used;
    ``max_tokens_per_doc`` cuts each document at that many of the reranker's tokens. Cohere's other fields
    (``priority``, ``relevant_spans``) are ignored: the service has no priorities and no spans."""

    model_config = ConfigDict(extra="ignore")
    query: StrictStr
    documents: list[StrictStr]
    top_n: StrictInt | None = None
    max_tokens_per_doc: StrictInt | None = None
    model: StrictStr | None = None


class SearchRequest(BaseModel):
    """``POST /v1/search``: the query through both stages of the pipeline file; ``fields``: metadata fields of each
    result's document to return (a field the document does not have is left out)."""

    model_config = ConfigDict(extra="ignore")
    query: StrictStr
    top_n: StrictInt | None = None
    return_documents: StrictBool = False
    fields: list[StrictStr] | None = None


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
        parsed = _parsed(RerankRequest, await _json_body(request, limits.max_body_bytes, limits.max_json_depth))
        texts = parsed.texts()
        with service.admitted():
            answer = await _answered(service.rerank, parsed.query, texts, parsed.top_n, None, parsed.metadata())
        return JSONResponse(_rerank_answer(answer, service.model_name, texts if parsed.return_documents else None,
                                           api_version="1"))

    @app.post("/v2/rerank")
    async def rerank_v2(request: Request) -> JSONResponse:
        parsed = _parsed(RerankV2Request, await _json_body(request, limits.max_body_bytes, limits.max_json_depth))
        with service.admitted():
            answer = await _answered(service.rerank, parsed.query, parsed.documents, parsed.top_n,
                                     parsed.max_tokens_per_doc)
        return JSONResponse(_rerank_answer(answer, service.model_name, None, api_version="2"))

    @app.post("/v1/search")
    async def search(request: Request) -> JSONResponse:
        parsed = _parsed(SearchRequest, await _json_body(request, limits.max_body_bytes, limits.max_json_depth))
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
            if hit.scored_by is not None:  # a cascade: whose score relevance_score is, "main" or "small"
                result["scored_by"] = hit.scored_by
            if hit.signalled is not None:
                result.update(_signal_parts(hit.signalled))
            if parsed.fields is not None:
                metadata = dataset.document(hit.doc_id).metadata
                result["fields"] = {name: metadata[name] for name in parsed.fields if name in metadata}
            if parsed.return_documents:
                document = dataset.document(hit.doc_id)
                result["document"] = {"title": document.title, "text": document.text}
            results.append(result)
        return JSONResponse({"id": answer.request_id, "model": service.model_name, "results": results,
                             **_fallback(answer), **_signals_applied(answer),
                             "dropped_by_threshold": answer.dropped_by_threshold, "timings_ms": answer.timings_ms})

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


def _rerank_answer(answer: Answer, model: str, texts: list[str] | None, api_version: str) -> dict[str, Any]:
    """A rerank answer in Cohere's shape (v1 and v2 alike: ``id``, ``results`` of ``index`` and ``relevance_score``,
    ``meta``), with the service's own fields beside it; each result has its document where ``texts`` are given."""
    results = []
    for item in answer.results:
        result: dict[str, Any] = {"index": item.index, "relevance_score": item.relevance_score}
        if item.probability is not None:
            result["probability"] = item.probability
        if item.above_threshold is not None:
            result["above_threshold"] = item.above_threshold
        if item.scored_by is not None:  # a cascade: whose score relevance_score is, "main" or "small"
            result["scored_by"] = item.scored_by
        if item.signalled is not None:
            result.update(_signal_parts(item.signalled))
        if texts is not None:
            result["document"] = {"text": texts[item.index]}
        results.append(result)
    return {"id": answer.request_id, "model": model, "results": results, **_fallback(answer),
            **_signals_applied(answer), "timings_ms": answer.timings_ms,
            "meta": {"api_version": {"version": api_version}, "billed_units": {"search_units": 1}}}


def _fallback(answer: Answer) -> dict[str, Any]:
    return {"fallback": answer.fallback, **({"fallback_reason": answer.reason} if answer.fallback else {})}


def _signals_applied(answer: Answer) -> dict[str, Any]:
    """The answer's ``signals`` (what ranked it and what relevance was), where the file has signals."""
    if answer.signals is None:
        return {}
    return {"signals": {"described": answer.signals.described, "relevance": answer.signals.relevance}}


def _signal_parts(scores: SignalScore) -> dict[str, Any]:
    """One result's final score, its parts by label, and its place by relevance alone."""
    return {"final_score": scores.final_score, "signals": dict(scores.contributions),
            "relevance_rank": scores.relevance_rank}


async def _json_body(request: Request, max_bytes: int, max_depth: int) -> Any:
    """The request's JSON, read at most ``max_bytes`` far, nested at most ``max_depth`` deep, its strings valid
    Unicode."""
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
    # Before parsing: Python's parser recurses once per level, and a deep enough body overflows its stack.
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise BadRequest(400, f"The body nests arrays and objects {depth:,} levels deep; at most {max_depth} are "
                              "accepted (a request needs 3). Send the fields flat, as the API shows them.")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(400, f"The body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    if _MAYBE_SURROGATE.search(raw):
        place, code = lone_surrogate(body) or (None, 0)
        if place is not None:
            raise BadRequest(400, f"{place}: holds a lone surrogate (\\u{code:04x}), which is not a character. "
                                  "Send text as UTF-8, or escape a character beyond U+FFFF as a surrogate pair.")
    return body


# A JSON string (the unrolled form: no backtracking), and every byte but the four that open and close nesting.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_NESTING = bytes(byte for byte in range(256) if byte not in b"[]{}")
# A \uD800-\uDFFF escape, the only way a lone surrogate gets into a JSON text that is valid UTF-8 (an escaped
# backslash before "uD8.." also matches: the strings are then checked one by one)
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in the JSON text ``raw``, brackets inside strings not counted; one linear
    pass (UTF-8's multi-byte characters never hold an ASCII byte, so the bytes can be scanned as they are)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_NESTING)
    if len(brackets) <= 1:
        return len(brackets)
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max())


def lone_surrogate(body: Any) -> tuple[str, int] | None:
    """Where in the parsed ``body`` a string (or key) holds a lone surrogate, as a field path, and its code point;
    None when every string is valid Unicode. (Python's parser turns an escaped pair into one character, so any
    surrogate left is a lone one.)"""
    waiting: deque[tuple[str, Any]] = deque([("", body)])
    while waiting:
        place, value = waiting.popleft()
        if isinstance(value, str):
            code = _surrogate_in(value)
            if code is not None:
                return place or "body", code
        elif isinstance(value, dict):
            for key, item in value.items():
                code = _surrogate_in(key)
                if code is not None:
                    return f"{place or 'body'} (a key)", code
                waiting.append((f"{place}.{key}" if place else key, item))
        elif isinstance(value, list):
            waiting.extend((f"{place}.{index}" if place else str(index), item) for index, item in enumerate(value))
    return None


def _surrogate_in(text: str) -> int | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return ord(text[exc.start])
    return None


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

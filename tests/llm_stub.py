"""A local OpenAI-compatible chat-completions server with deterministic answers, for the AI judge's and the LLM
rerankers' tests (and to try them by hand: ``python tests/llm_stub.py --port 8011``).

It is no model. It grades a document by the words it shares with the query: the number of distinct query words
of four letters or more found in the document, at most the top of the scale it is asked for; a listwise request is
answered with the passages ordered by that count (ties: the given order). Everything it reads comes from between
the tags the prompts put around the data, as a model would have to.

The model name chooses a behaviour, for the failure tests:

- ``stub``: answers as above;
- ``stub-429``: the first ``STUB_FAILURES`` requests are answered 429 with Retry-After 0, then as ``stub``;
- ``stub-500``: the same with 500;
- ``stub-slow``: waits ``STUB_DELAY`` seconds before each answer (a timeout test, or a run to kill half way);
- ``stub-malformed``: every first request of a pair is answered with text that is not JSON, then as ``stub``;
- ``stub-garbled``: every answer is text that is not JSON;
- ``stub-refuse``: refuses documents that contain the word "forbidden", answers the rest as ``stub``;
- ``stub-filter``: the same refusal as the endpoint's content filter (``finish_reason`` "content_filter").

Every request's body and Authorization header is kept (``StubServer.requests``) for the tests to read.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STUB_FAILURES = 2
STUB_DELAY = 0.3
_WORD = re.compile(r"[a-z0-9]+")


def _between(text: str, tag: str) -> list[str]:
    """The texts between <tag ...> and </tag>, unescaped."""
    return [html.unescape(found.strip()) for found in re.findall(rf"<{tag}(?: [^>]*)?>\n?(.*?)\n?</{tag}>", text,
                                                                   re.DOTALL)]


def overlap(query: str, document: str) -> int:
    """Distinct query words of four letters or more that the document contains."""
    words = {word for word in _WORD.findall(query.lower()) if len(word) >= 4}
    present = set(_WORD.findall(document.lower()))
    return len(words & present)


def stub_grade(query: str, document: str, top: int = 3) -> int:
    """The grade the stub gives: the overlap, at most ``top``."""
    return min(top, overlap(query, document))


@dataclass
class Recorded:
    """One request as the stub received it."""

    body: dict[str, Any]
    authorization: str


@dataclass
class StubState:
    """What the stub has seen and counted (shared by its handler threads)."""

    requests: list[Recorded] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)
    malformed_sent: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    state: StubState

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        if not self.path.endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        length = int(self.headers.get("content-length", "0"))
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self._send(400, {"error": {"message": "the body is not JSON"}})
            return
        with self.state.lock:
            self.state.requests.append(Recorded(body, self.headers.get("authorization", "")))
        model = str(body.get("model", ""))
        if model in ("stub-429", "stub-500"):
            with self.state.lock:
                left = self.state.failures_left.setdefault(model, STUB_FAILURES)
                self.state.failures_left[model] = left - 1
            if left > 0:
                status = 429 if model == "stub-429" else 500
                self._send(status, {"error": {"message": "stub says: try again"}}, {"Retry-After": "0"})
                return
        if model == "stub-slow":
            time.sleep(STUB_DELAY)
        self._send(200, self._completion(model, body.get("messages", [])))

    def _completion(self, model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        user = next((m["content"] for m in messages if m.get("role") == "user"), "")
        query = (_between(user, "query") or [""])[0]
        passages = _between(user, "passage")
        finish = "stop"
        refusal = None
        if passages:
            order = sorted(range(len(passages)), key=lambda p: (-overlap(query, passages[p]), p))
            text = " > ".join(f"[{p + 1}]" for p in order)
        else:
            document = (_between(user, "document") or [""])[0]
            grades = [int(g) for g in re.findall(r"^- (\d+):", system, re.MULTILINE)] or [0, 1, 2, 3]
            grade = max(min(grades), min(max(grades), overlap(query, document)))
            text = json.dumps({"grade": grade, "reason": f"{overlap(query, document)} query word(s) in the document"})
            key = f"{query}\x00{document}"
            if model == "stub-malformed" and len(messages) == 2:
                with self.state.lock:
                    first = key not in self.state.malformed_sent
                    self.state.malformed_sent.add(key)
                if first:
                    text = "The grade is probably two, I think."
            if model == "stub-garbled":
                text = "Relevant-ish, I would say."
            if model in ("stub-refuse", "stub-filter") and "forbidden" in document.lower():
                if model == "stub-refuse":
                    text, refusal = "", "I can't help with grading this document."
                else:
                    text, finish = "", "content_filter"
        tokens_in = sum(len(m.get("content", "")) for m in messages) // 4
        return {"id": "stub", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "finish_reason": finish,
                             "message": {"role": "assistant", "content": text, "refusal": refusal}}],
                "usage": {"prompt_tokens": tokens_in, "completion_tokens": max(1, len(text) // 4),
                          "total_tokens": tokens_in + max(1, len(text) // 4)}}

    def _send(self, status: int, content: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(content).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class StubServer:
    """The stub listening on 127.0.0.1 (a free port unless given), in a thread of its own."""

    def __init__(self, port: int = 0) -> None:
        self.state = StubState()
        handler = type("StubHandler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The base URL to give the explorer: http://127.0.0.1:PORT/v1."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> list[Recorded]:
        """Every request received so far."""
        with self.state.lock:
            return list(self.state.requests)

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    """Serves the stub until stopped (Ctrl-C)."""
    parser = argparse.ArgumentParser(description="A deterministic OpenAI-compatible stub for the explorer's AI judge.")
    parser.add_argument("--port", type=int, default=8011)
    port = parser.parse_args().port
    with StubServer(port) as stub:
        print(f"Stub chat-completions API at {stub.base_url} (model: stub). Ctrl-C stops it.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

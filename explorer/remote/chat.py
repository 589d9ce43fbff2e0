"""One OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI's v1 API, vLLM, Ollama, llama.cpp's server,
LM Studio): ``POST {base URL}/chat/completions`` with a model and messages, answered by the first choice's message.

The requests go through ``explorer.remote.client.RerankClient``: timeouts, retries on 429 (honouring Retry-After)
and 5xx, a key that is only ever put in the ``Authorization`` header, and errors that say what to do. Several
requests may be in flight at once (``ChatEndpoint.concurrency``), each from its own thread.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from explorer.errors import ConfigError, RemoteServiceError
from explorer.hosts import checked_url
from explorer.remote.client import RerankClient, RetryPolicy, Secret, Timeouts
from explorer.settings import Settings

COMPLETIONS_PATH = "/chat/completions"
CHARACTERS_PER_TOKEN = 4  # a rough rule for English text, used where a server reports no token counts
Message = dict[str, str]


@dataclass(frozen=True)
class ChatEndpoint:
    """Where chat requests go and how: the base URL (without ``/chat/completions``), the model, the variable the
    key is read from, requests in flight at once, seconds one answer may take, retries on 429 and 5xx, and (where
    the user set them) US dollars per million input and output tokens."""

    base_url: str
    model: str
    key_variable: str = "OPENAI_API_KEY"
    concurrency: int = 4
    timeout_s: float = 60.0
    retries: int = 3
    usd_per_million_input: float | None = None
    usd_per_million_output: float | None = None

    def __post_init__(self) -> None:
        base = checked_url(self.base_url, "the endpoint's base URL")
        if base.endswith(COMPLETIONS_PATH):
            base = base[: -len(COMPLETIONS_PATH)]
        object.__setattr__(self, "base_url", base)
        if not self.model.strip():
            raise ConfigError("Name the model the endpoint should run (--model on the command line, or "
                              "EXPLORER_LLM_MODEL), for example gpt-4o-mini, or llama3.1:8b on Ollama.")
        object.__setattr__(self, "model", self.model.strip())
        if self.concurrency < 1:
            raise ConfigError(f"Requests in flight at once must be at least 1, not {self.concurrency}.")

    @classmethod
    def from_settings(cls, settings: Settings, base_url: str | None = None, model: str | None = None,
                      **changes: Any) -> "ChatEndpoint":
        """The endpoint of ``settings`` (EXPLORER_LLM_URL, EXPLORER_LLM_MODEL, ...), with ``base_url``, ``model``
        and any other field given here instead."""
        endpoint = cls(base_url or settings.llm_url, model or settings.llm_model, settings.llm_key_variable,
                       settings.llm_concurrency, settings.llm_timeout_s, settings.remote_retries)
        return replace(endpoint, **changes) if changes else endpoint

    @property
    def url(self) -> str:
        """The URL requests are POSTed to."""
        return self.base_url + COMPLETIONS_PATH

    @property
    def label(self) -> str:
        """The model and where it runs, as saved with its answers (never a key): "gpt-4o-mini@https://...". """
        return f"{self.model}@{self.base_url}"

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """US dollars for that many tokens, or None when no price is set."""
        if self.usd_per_million_input is None and self.usd_per_million_output is None:
            return None
        return (input_tokens * (self.usd_per_million_input or 0.0)
                + output_tokens * (self.usd_per_million_output or 0.0)) / 1_000_000


@dataclass(frozen=True)
class ChatAnswer:
    """The first choice's text, or the model's refusal, with the tokens it took and the seconds it took."""

    text: str
    input_tokens: int
    output_tokens: int
    seconds: float
    refusal: str = ""  # why the model declined (its own words, or the filter that stopped it); "" when it answered


@dataclass
class Usage:
    """What a run of requests took so far (shared by threads: ``add`` under a lock)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, answer: ChatAnswer) -> None:
        """Counts one answered request."""
        with self._lock:
            self.calls += 1
            self.input_tokens += answer.input_tokens
            self.output_tokens += answer.output_tokens
            self.seconds += answer.seconds


def estimated_tokens(text: str) -> int:
    """About how many tokens ``text`` is (4 characters a token), for plans and servers that report no usage."""
    return max(1, math.ceil(len(text) / CHARACTERS_PER_TOKEN))


class ChatClient:
    """Sends chat requests to one endpoint; thread-safe (the HTTP connections are shared)."""

    def __init__(self, endpoint: ChatEndpoint, key: str, policy: RetryPolicy | None = None,
                 timeouts: Timeouts | None = None, **client_options: Any) -> None:
        self.endpoint = endpoint
        self.usage = Usage()
        hint = ("the endpoint's base URL (it ends before /chat/completions, e.g. http://127.0.0.1:11434/v1 for "
                "Ollama)")
        self._http = RerankClient(endpoint.url, Secret(key, endpoint.key_variable), hint,
                                  timeouts or Timeouts(read_s=endpoint.timeout_s),
                                  policy or RetryPolicy(retries=endpoint.retries), kind="chat-completions API",
                                  timeout_setting="EXPLORER_LLM_TIMEOUT", **client_options)

    def __repr__(self) -> str:
        return f"ChatClient({self.endpoint.label!r}, key from {self.endpoint.key_variable})"

    @property
    def host(self) -> str:
        """The endpoint's host and port."""
        return self._http.host

    def ask(self, messages: Sequence[Message], max_tokens: int = 200) -> ChatAnswer:
        """The model's answer to ``messages`` (at temperature 0). RemoteServiceError when the endpoint fails or
        answers something that is not a chat completion."""
        body = {"model": self.endpoint.model, "messages": list(messages), "temperature": 0,
                "max_tokens": max_tokens}
        started = time.perf_counter()
        content = self._http.post(body)
        seconds = time.perf_counter() - started
        answer = _read_completion(content, messages, seconds, self.host)
        self.usage.add(answer)
        return answer

    def close(self) -> None:
        """Closes the connections kept open to the endpoint."""
        self._http.close()


def _read_completion(content: Any, messages: Sequence[Message], seconds: float, host: str) -> ChatAnswer:
    """The ChatAnswer in a chat-completions response; RemoteServiceError when it is not one."""
    try:
        choice = content["choices"][0]
        message = choice.get("message") or {}
    except (KeyError, IndexError, TypeError):
        raise RemoteServiceError(f"{host} answered without a chat completion (no choices[0]); is it an "
                                 "OpenAI-compatible chat-completions API?") from None
    text = message.get("content") or ""
    if not isinstance(text, str):  # a list of content parts
        text = "".join(part.get("text", "") for part in text if isinstance(part, dict))
    refusal = message.get("refusal") or ""
    if not refusal and choice.get("finish_reason") == "content_filter":
        refusal = "stopped by the endpoint's content filter"
    usage = content.get("usage") or {}
    input_tokens = usage.get("prompt_tokens")
    output_tokens = usage.get("completion_tokens")
    if not isinstance(input_tokens, int):
        input_tokens = sum(estimated_tokens(m.get("content", "")) for m in messages)
    if not isinstance(output_tokens, int):
        output_tokens = estimated_tokens(text or refusal)
    return ChatAnswer(text, input_tokens, output_tokens, seconds, str(refusal))


def open_chat(endpoint: ChatEndpoint, key: str, **client_options: Any) -> ChatClient:
    """A client for ``endpoint`` with ``key`` ("" for a server that needs none, such as a local one)."""
    return ChatClient(endpoint, key, **client_options)

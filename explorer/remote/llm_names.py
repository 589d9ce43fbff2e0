"""The names of LLM rerankers: ``llm-pointwise:MODEL`` (a grade per document) and ``llm-listwise:MODEL`` (a
RankGPT-style permutation over sliding windows), run by an OpenAI-compatible chat endpoint: the one in
EXPLORER_LLM_URL, or the one named after the model, as in ``llm-listwise:llama3.1:8b@http://127.0.0.1:11434/v1``.
The key comes from the variable in EXPLORER_LLM_KEY_VARIABLE (OPENAI_API_KEY unless named), never from the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from explorer.errors import ConfigError
from explorer.hosts import checked_url, host_of, is_loopback
from explorer.remote.chat import ChatEndpoint
from explorer.settings import Settings

Mode = Literal["llm-pointwise", "llm-listwise"]
MODES: tuple[Mode, ...] = ("llm-pointwise", "llm-listwise")
EXAMPLES = ("llm-pointwise:gpt-4o-mini", "llm-listwise:llama3.1:8b@http://127.0.0.1:11434/v1")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:+]{0,199}$")


@dataclass(frozen=True)
class LLMName:
    """An LLM reranker's name, checked: how it ranks, the model, and its endpoint's base URL ("": the settings')."""

    mode: Mode
    model: str
    url: str = ""

    @property
    def name(self) -> str:
        """The name as shown and saved (it never holds a key)."""
        return f"{self.mode}:{self.model}" + (f"@{self.url}" if self.url else "")

    @property
    def title(self) -> str:
        """For messages: "LLM listwise (gpt-4o-mini)"."""
        return f"LLM {self.mode.split('-')[1]} ({self.model})"

    def endpoint(self, settings: Settings) -> ChatEndpoint:
        """The chat endpoint that runs it."""
        return ChatEndpoint.from_settings(settings, base_url=self.url or None, model=self.model)


def is_llm_name(name: str | None) -> bool:
    """Whether ``name`` names an LLM reranker."""
    if not name:
        return False
    prefix, colon, _ = name.strip().partition(":")
    return bool(colon) and prefix.lower() in MODES


def parse_llm_name(name: str) -> LLMName:
    """``name`` checked; ConfigError says what is wrong with it."""
    prefix, _, rest = name.strip().partition(":")
    mode = prefix.lower()
    if mode not in MODES:
        raise ConfigError(f"{prefix!r} is not an LLM reranker; use llm-pointwise:MODEL or llm-listwise:MODEL.")
    model, at, url = rest.strip().partition("@http")
    model = model.strip()
    if not _MODEL.match(model):
        raise ConfigError(f"{mode}:{model[:60]!r} does not name a model. Write {mode}:MODEL, or "
                          f"{mode}:MODEL@http://host:port/v1 for another endpoint than EXPLORER_LLM_URL.")
    checked = checked_url("http" + url, "the LLM reranker's name") if at else ""
    return LLMName(mode, model, checked)  # type: ignore[arg-type]


def check_llm_allowed(name: str, settings: Settings) -> None:
    """For an LLM reranker or judge chosen on a page: its endpoint must be EXPLORER_LLM_URL's host or one of
    EXPLORER_LLM_HOSTS, since the server sends it the queries, the documents and the key. ConfigError otherwise."""
    check_host_allowed(parse_llm_name(name).endpoint(settings).base_url, settings)


def check_host_allowed(base_url: str, settings: Settings) -> None:
    """ConfigError unless the chat endpoint ``base_url`` is on a host this server may send data and the key to."""
    host = host_of(base_url)
    if host == host_of(settings.llm_url) or host in settings.llm_hosts:
        return
    setting = "EXPLORER_LLM_HOSTS=" + ",".join((*settings.llm_hosts, host))
    where = " (this machine: any program listening on one of its ports would get them)" if is_loopback(host) else ""
    raise ConfigError(f"This server sends queries, documents and {settings.llm_key_variable} only to the chat "
                      f"endpoints whoever runs it allows (EXPLORER_LLM_URL's host and EXPLORER_LLM_HOSTS), not to "
                      f"{host!r}{where}. Ask them to start it with {setting}, or use the command line.")


def llm_key_status(settings: Settings) -> str:
    """Whether the chat endpoint's key variable is set, in words (never the key)."""
    if settings.llm_api_key:
        return f"{settings.llm_key_variable} is set (sent to the chat endpoint only)."
    return (f"{settings.llm_key_variable} is not set: requests go without a key (fine for a local server such as "
            "Ollama or vLLM).")

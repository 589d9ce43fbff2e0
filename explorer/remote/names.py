"""The names of remote rerankers, and the rules about where they may send a query and a key.

``cohere:MODEL``, ``voyage:MODEL``, ``jina:MODEL``: a vendor's hosted reranker, at the vendor's base URL (settable by
EXPLORER_COHERE_URL, EXPLORER_VOYAGE_URL, EXPLORER_JINA_URL), with the key in COHERE_API_KEY, VOYAGE_API_KEY or
JINA_API_KEY. ``rerank-api:URL``: a service whose ``POST {URL}/v1/rerank`` speaks the Cohere/Jina shape, with the
optional key in RERANK_API_KEY. A vendor's key is only ever sent to that vendor's base URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from explorer.errors import ConfigError
from explorer.hosts import checked_url, host_of, is_loopback
from explorer.remote.llm_names import check_llm_allowed, is_llm_name, llm_key_status
from explorer.settings import Settings

Vendor = Literal["cohere", "voyage", "jina", "rerank-api"]
VENDORS: tuple[Vendor, ...] = ("cohere", "voyage", "jina", "rerank-api")
KEY_VARIABLES: dict[Vendor, str] = {"cohere": "COHERE_API_KEY", "voyage": "VOYAGE_API_KEY", "jina": "JINA_API_KEY",
                                    "rerank-api": "RERANK_API_KEY"}
URL_VARIABLES: dict[Vendor, str] = {"cohere": "EXPLORER_COHERE_URL", "voyage": "EXPLORER_VOYAGE_URL",
                                    "jina": "EXPLORER_JINA_URL"}
TITLES: dict[Vendor, str] = {"cohere": "Cohere", "voyage": "Voyage AI", "jina": "Jina AI",
                             "rerank-api": "rerank API"}
# what the sidebar suggests; any model the vendor serves works
EXAMPLES = ("cohere:rerank-v3.5", "voyage:rerank-2.5", "jina:jina-reranker-v2-base-multilingual",
            "rerank-api:http://127.0.0.1:8000")
RERANK_PATH = "/v1/rerank"
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,199}$")


@dataclass(frozen=True)
class RemoteName:
    """A remote reranker's name, checked and normalised: the vendor, and the model (vendors) or URL (rerank-api)."""

    vendor: Vendor
    target: str

    @property
    def name(self) -> str:
        """The name as the explorer shows and saves it (it never holds a key)."""
        return f"{self.vendor}:{self.target}"

    @property
    def model(self) -> str:
        """The vendor's model name ("" for a rerank-api service, which runs whatever it runs)."""
        return "" if self.vendor == "rerank-api" else self.target

    @property
    def key_variable(self) -> str:
        """The environment variable the key is read from."""
        return KEY_VARIABLES[self.vendor]

    @property
    def title(self) -> str:
        """The vendor's name for messages, e.g. "Cohere"."""
        return TITLES[self.vendor]

    def key(self, settings: Settings) -> str:
        """The key for this reranker's service from ``settings`` ("" when its variable is not set)."""
        return {"cohere": settings.cohere_api_key, "voyage": settings.voyage_api_key,
                "jina": settings.jina_api_key, "rerank-api": settings.rerank_api_key}[self.vendor]

    def base_url(self, settings: Settings) -> str:
        """Where requests go: the vendor's base URL from ``settings``, or the rerank-api service's URL."""
        if self.vendor == "rerank-api":
            return self.target
        configured = {"cohere": settings.cohere_url, "voyage": settings.voyage_url, "jina": settings.jina_url}
        return checked_url(configured[self.vendor], URL_VARIABLES[self.vendor])

    def endpoint(self, settings: Settings) -> str:
        """The URL the rerank request is POSTed to."""
        base = self.base_url(settings).rstrip("/")
        if self.vendor == "cohere":
            return base + "/v2/rerank"
        return base if base.endswith(RERANK_PATH) else base + RERANK_PATH

    def url_hint(self) -> str:
        """Where the URL comes from, for a message that asks to check it."""
        if self.vendor == "rerank-api":
            return "the URL in the reranker's name"
        return f"the base URL, set by {URL_VARIABLES[self.vendor]}"


def is_remote_name(name: str | None) -> bool:
    """Whether ``name`` names a remote reranker (``cohere:``, ``voyage:``, ``jina:`` or ``rerank-api:``, or an
    LLM reranker: ``llm-pointwise:`` or ``llm-listwise:``, see ``explorer.remote.llm_names``)."""
    if not name:
        return False
    prefix, colon, _ = name.strip().partition(":")
    return bool(colon) and (prefix.lower() in VENDORS or is_llm_name(name))


def parse_remote_name(name: str) -> RemoteName:
    """``name`` checked and normalised; ConfigError says what is wrong with it (never repeating a password)."""
    prefix, _, rest = name.strip().partition(":")
    vendor = prefix.lower()
    if vendor not in VENDORS:
        raise ConfigError(f"{prefix!r} is not a remote reranker; use one of: "
                          + ", ".join(f"{v}:..." for v in VENDORS) + ".")
    rest = rest.strip()
    if vendor == "rerank-api":
        return RemoteName("rerank-api", checked_url(rest, "the reranker's name"))
    if not _MODEL.match(rest):
        raise ConfigError(f"{vendor}:{rest[:60]!r} does not name a model. Write {vendor}:MODEL, for example "
                          f"{next(e for e in EXAMPLES if e.startswith(vendor))}.")
    return RemoteName(vendor, rest)  # type: ignore[arg-type]


def check_remote_allowed(name: str | None, settings: Settings) -> None:
    """For a reranker chosen on a page: a ``rerank-api:URL`` must be on a vendor's configured base URL or on a host
    listed in EXPLORER_RERANK_HOSTS (the server would send it the visitor's queries, and RERANK_API_KEY).
    ConfigError otherwise, naming the setting to add. This machine's own addresses (localhost, 127.0.0.1, ::1) need
    the setting too: whatever listens on any of their ports would get the key. Other names pass (vendors' URLs are
    the server's own settings). The command line is not limited: whoever types the URL there runs it on their own
    behalf."""
    if not is_remote_name(name):
        return
    if is_llm_name(name):
        check_llm_allowed(name or "", settings)
        return
    remote = parse_remote_name(name or "")
    if remote.vendor != "rerank-api":
        return
    host = host_of(remote.target)
    vendor_hosts = {host_of(url) for url in (settings.cohere_url, settings.voyage_url, settings.jina_url)}
    if host in vendor_hosts or host in settings.rerank_hosts:
        return
    setting = "EXPLORER_RERANK_HOSTS=" + ",".join((*settings.rerank_hosts, host))
    where = " (this machine: any program listening on one of its ports would get them)" if is_loopback(host) else ""
    raise ConfigError(f"This server sends queries and RERANK_API_KEY only to the rerank services whoever runs it "
                      f"allows (the vendors' base URLs and the hosts in EXPLORER_RERANK_HOSTS), not to {host!r}"
                      f"{where}. Ask them to start it with {setting} (comma-separated host names), or use the "
                      "command line.")


def key_status(name: str, settings: Settings) -> str:
    """Whether the key variable of the remote reranker ``name`` is set, in words (never the key itself)."""
    if is_llm_name(name):
        return llm_key_status(settings)
    remote = parse_remote_name(name)
    variable = remote.key_variable
    if remote.key(settings):
        return f"{variable} is set" + (" (sent to this service)" if remote.vendor == "rerank-api" else "") + "."
    if remote.vendor == "rerank-api":
        return f"{variable} is not set: requests go without a key (fine for a service that needs none)."
    return (f"{variable} is not set: set it in the environment of the server (or the command line) before it "
            "starts; it is read from there only.")

"""Which machine a URL names: for the checks that keep a page from making the server connect anywhere (Milvus
servers, rerank services) and for choices that differ on this machine."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from explorer.errors import ConfigError

LOOPBACK_NAMES = ("localhost",)


def host_of(url: str) -> str:
    """The host of ``url`` in lower case, without port ("" when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (localhost, 127.0.0.0/8, ::1)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_url(url: str, where: str) -> str:
    """An http(s) URL with a host, normalised (scheme and host in lower case, no trailing slash). Refused: a user
    name or password in it, a query string or a fragment (a key belongs in its variable, not in a name that is
    shown and saved); the message never repeats the refused URL."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"The URL in {where} cannot be read. Write it as http://host:port or https://host/path.") \
            from None
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"The URL in {where} has a user name or password in it, so it is refused: it would be shown "
                          "and saved with the reranker's name. Give the URL without them and put the key in "
                          "RERANK_API_KEY (or the vendor's key variable).")
    if parts.query or parts.fragment:
        raise ConfigError(f"The URL in {where} has a query string or fragment (after ? or #), so it is refused: it "
                          "could hold a key, and the name is shown and saved. Give the URL without it; a key goes "
                          "in RERANK_API_KEY.")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        shown = url if len(url) <= 80 else url[:80] + "…"
        raise ConfigError(f"{shown!r} in {where} is not an http(s) URL with a host; write it as "
                          "http://host:port or https://host/path.")
    host = parts.hostname.lower()
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))

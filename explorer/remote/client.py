"""One rerank endpoint over HTTP (httpx): timeouts, retries with backoff on 429 and 5xx (honouring Retry-After,
bounded in count and in total waiting), and errors that say what to do.

The key travels in the ``Authorization`` header of each request and nowhere else: it is held by a ``Secret`` that
never prints, is not logged (the log lines name the host, the path, the status and the time), is not put into any
error message (a service's own message is scrubbed of it too), and errors are raised without the HTTP library's
exception attached.
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlsplit

from explorer.errors import RemoteServiceError

logger = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# the HTTP library's own loggers: at DEBUG they log response headers, which a service could fill with the key it got
LIBRARY_LOGGERS = ("httpx", "httpcore.http11", "httpcore.connection", "httpcore.proxy")
_KEYS_IN_USE: set[str] = set()


class _ScrubKeys(logging.Filter):
    """Replaces any key in use in a log record of the HTTP library by ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _KEYS_IN_USE:
            text = record.getMessage()
            scrubbed = text
            for key in tuple(_KEYS_IN_USE):
                scrubbed = scrubbed.replace(key, "***")
            if scrubbed != text:
                record.msg, record.args = scrubbed, ()
        return True


for _name in LIBRARY_LOGGERS:
    logging.getLogger(_name).addFilter(_ScrubKeys())


class Secret:
    """An API key that never shows itself: repr and str name its variable, and it cannot be pickled."""

    __slots__ = ("_value", "variable")

    def __init__(self, value: str, variable: str) -> None:
        self._value = value
        self.variable = variable
        if value:
            _KEYS_IN_USE.add(value)

    def reveal(self) -> str:
        """The key itself, for the request header only."""
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with the key (if it appears) replaced by ``***``."""
        return text.replace(self._value, "***") if self._value else text

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"<the key in {self.variable}>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError(f"The key in {self.variable} is not saved anywhere; it is read from the environment.")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a request answered 429 or 5xx is tried again: ``retries`` more times, waiting
    ``first_wait_s`` and doubling (or what Retry-After asks, if longer), each wait at most ``longest_wait_s``, all
    waits together at most ``total_wait_s``. A Retry-After longer than ``longest_wait_s`` ends the retries."""

    retries: int = 3
    first_wait_s: float = 0.5
    longest_wait_s: float = 10.0
    total_wait_s: float = 30.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """The wait before retry number ``attempt`` (0 for the first), before the caps."""
        return max(self.first_wait_s * (2 ** attempt), retry_after or 0.0)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to open a connection, and to wait for the answer."""

    connect_s: float = 5.0
    read_s: float = 30.0


class RerankClient:
    """POSTs JSON to one rerank endpoint with the key as a bearer token, and returns the JSON answer."""

    def __init__(self, endpoint: str, secret: Secret | None, url_hint: str, timeouts: Timeouts = Timeouts(),
                 policy: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep,
                 kind: str = "rerank API", timeout_setting: str = "EXPLORER_REMOTE_TIMEOUT") -> None:
        import httpx

        self.endpoint = endpoint
        parts = urlsplit(endpoint)
        self.host = parts.netloc  # URLs with credentials are refused before they get here (names.checked_url)
        self._path = parts.path
        self._secret = secret
        self._url_hint = url_hint
        self.timeouts = timeouts
        self.policy = policy
        self._sleep = sleep
        self._kind = kind  # what the endpoint is, for messages: "rerank API", "chat-completions API"
        self._timeout_setting = timeout_setting
        # Redirects are not followed: the answer must come from the URL the key was meant for.
        self._client = httpx.Client(timeout=httpx.Timeout(timeouts.read_s, connect=timeouts.connect_s),
                                    follow_redirects=False)

    def __repr__(self) -> str:
        return f"RerankClient({self.endpoint!r}, key from {self._secret.variable if self._secret else 'nowhere'})"

    def post(self, body: dict[str, Any]) -> Any:
        """The JSON answer to ``body``; RemoteServiceError when the service cannot be reached, refuses, keeps failing
        or answers with something that is not JSON."""
        waited = 0.0
        attempt = 0
        while True:
            response = self._send(body)
            status = response.status_code
            if status < 300:
                return self._json(response)
            if status in RETRIED_STATUSES and attempt < self.policy.retries:
                wait = self.policy.wait(attempt, _retry_after(response.headers.get("retry-after")))
                if wait <= self.policy.longest_wait_s and waited + wait <= self.policy.total_wait_s:
                    logger.info("%s answered %d; trying again in %.1f s (retry %d of %d)", self.host, status, wait,
                                attempt + 1, self.policy.retries)
                    self._sleep(wait)
                    waited += wait
                    attempt += 1
                    continue
            raise self._refusal(response, attempt, waited)

    def _send(self, body: dict[str, Any]) -> Any:
        import httpx

        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._secret:
            headers["Authorization"] = f"Bearer {self._secret.reveal()}"
        started = time.perf_counter()
        try:
            response = self._client.post(self.endpoint, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise self._unreachable("the connection timed out") from None
            raise RemoteServiceError(
                f"{self.host} did not answer within {self.timeouts.read_s:g} s. Try again, ask for less, or "
                f"allow longer with {self._timeout_setting} (seconds).") from None
        except httpx.TransportError as exc:
            raise self._unreachable(self._scrub(str(exc)) or type(exc).__name__) from None
        logger.debug("POST %s%s: %d in %.0f ms", self.host, self._path, response.status_code,
                     (time.perf_counter() - started) * 1000)
        return response

    def _unreachable(self, reason: str) -> RemoteServiceError:
        return RemoteServiceError(f"Cannot reach {self.host}: {reason}; check the network or {self._url_hint}.")

    def _json(self, response: Any) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RemoteServiceError(f"{self.host} answered {response.status_code} with something that is not JSON; "
                                     f"is {self.endpoint} a {self._kind}?") from None

    def _refusal(self, response: Any, attempt: int, waited: float) -> RemoteServiceError:
        status = response.status_code
        said = self._service_message(response)
        tries = f" after {attempt + 1} tries over {waited:.1f} s" if attempt else ""
        variable = self._secret.variable if self._secret is not None else ""
        if status in (401, 403):
            if self._secret:
                return RemoteServiceError(f"{self.host} refused the key in {variable} ({status}{said}): check that "
                                          "the key is valid and allowed to use this model.")
            return RemoteServiceError(f"{self.host} asks for a key ({status}{said}). Set "
                                      f"{variable or 'the key variable'} in the environment before starting.")
        if status == 429:
            return RemoteServiceError(f"{self.host} is limiting requests (429 Too Many Requests{said}){tries}. Wait "
                                      "a little and try again, or use a key with a higher rate limit.")
        if 300 <= status < 400:
            return RemoteServiceError(f"{self.host} answered with a redirect ({status}) to "
                                      f"{self._scrub(response.headers.get('location', '?'))[:200]}, which is not "
                                      f"followed; give the final URL ({self._url_hint}).")
        if status >= 500:
            return RemoteServiceError(f"{self.host} failed ({status}{said}){tries}. The service has a problem; try "
                                      "again later.")
        if status == 404:
            return RemoteServiceError(f"{self.host} has no {self._kind} at {self._path} (404{said}); check "
                                      f"{self._url_hint} and the model name.")
        return RemoteServiceError(f"{self.host} refused the request ({status}{said}).")

    def _service_message(self, response: Any) -> str:
        """The service's own explanation, short and scrubbed of the key: ": ..." (or "")."""
        try:
            content = response.json()
        except ValueError:
            content = response.text
        text = _message_in(content)
        text = " ".join(self._scrub(text).split())[:300]
        return f": {text}" if text else ""

    def _scrub(self, text: str) -> str:
        return self._secret.scrub(text) if self._secret is not None else text

    def close(self) -> None:
        """Closes the connections kept open to the service."""
        self._client.close()


def _message_in(content: Any) -> str:
    """Where the vendors put their error message: ``message`` (Cohere), ``detail`` (Voyage, Jina, FastAPI services),
    ``error.message`` or ``error``; else the text itself."""
    if isinstance(content, dict):
        for field in ("message", "detail", "error"):
            value = content.get(field)
            if isinstance(value, dict):
                value = value.get("message", "")
            if value:
                return value if isinstance(value, str) else str(value)
        return ""
    return content if isinstance(content, str) else ""


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())

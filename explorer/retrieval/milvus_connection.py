"""Where the Milvus first stage lives, and the one door to it: milvus-lite in a local folder (embedded, no server),
or any Milvus server or cluster by URI, with its token taken from the environment and never written anywhere.

milvus-lite serves one process at a time: a second process (the app and a CLI command, say) opening the same
folder gets ``MilvusUnavailable`` saying to run a server over that folder, with the command.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from explorer.errors import ExplorerError
from explorer.hosts import host_of, is_loopback

SERVER_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")
DEFAULT_SERVER_PORT = 19530


class MilvusUnavailable(ExplorerError):
    """Milvus could not be reached or opened; the message says what to do."""


@dataclass(frozen=True)
class MilvusSource:
    """What the spec asks of Milvus: where (``uri``, "" = the settings' choice), and which collection.

    ``collection`` "" means this corpus's own collection, built here from its embeddings; any other name attaches
    that collection as it is (never written to), with the fields holding id, text, title and vector named by the
    ``*_field`` options ("" = guessed from the schema). ``filter`` is a Milvus boolean expression applied to
    every search, e.g. ``source == "runbook"``."""

    uri: str = ""
    collection: str = ""
    id_field: str = ""
    text_field: str = ""
    title_field: str = ""
    vector_field: str = ""
    filter: str = ""

    @property
    def attached(self) -> bool:
        """Whether this is the user's own collection (read only), not one built here."""
        return bool(self.collection)


@dataclass(frozen=True)
class MilvusTarget:
    """A Milvus to talk to: a local milvus-lite folder, or a server URI. The token is kept out of every repr."""

    uri: str
    token: str = field(default="", repr=False)

    @property
    def is_local(self) -> bool:
        """milvus-lite in a local folder (no server)."""
        return not self.uri.startswith(SERVER_SCHEMES)

    @property
    def host(self) -> str:
        """A server's host name, lower case ("" for a local folder)."""
        return "" if self.is_local else host_of(self.uri)

    @property
    def on_this_machine(self) -> bool:
        """milvus-lite in a local folder, or a server on a loopback address."""
        return self.is_local or is_loopback(self.host)

    @property
    def backend(self) -> str:
        """"milvus-lite" or "Milvus server"."""
        return "milvus-lite" if self.is_local else "Milvus server"

    @property
    def label(self) -> str:
        """Where, for pages and logs: the folder, or the URI with any user name and password taken out."""
        if self.is_local:
            return f"milvus-lite at {self.uri}"
        parts = urlsplit(self.uri)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return f"Milvus at {urlunsplit((parts.scheme, netloc, parts.path, '', ''))}"


def target_for(source: MilvusSource, default_uri: str, local_path: Path, token: str) -> MilvusTarget:
    """The source's URI, else ``default_uri`` (the settings'), else milvus-lite in ``local_path``."""
    uri = source.uri.strip() or default_uri.strip() or str(local_path)
    if not uri.startswith(SERVER_SCHEMES):
        uri = str(Path(uri).expanduser().resolve())
    return MilvusTarget(uri, token)


def server_command(folder: str) -> str:
    """The command that serves a milvus-lite folder to several processes."""
    return f"milvus-lite server --data-dir {folder} --host 127.0.0.1 --port {DEFAULT_SERVER_PORT}"


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def connect(target: MilvusTarget) -> Any:
    """A pymilvus ``MilvusClient`` for ``target``, one per target in this process (milvus-lite allows only one
    opener of a folder). Raises MilvusUnavailable with what to do; the token never appears in it."""
    with _clients_lock:
        client = _clients.get(target.uri)
        if client is None:
            client = _open(target)
            _clients[target.uri] = client
        return client


def _open(target: MilvusTarget) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise MilvusUnavailable("pymilvus is not installed: run `bash scripts/setup.sh` (it installs "
                                "requirements.txt, which has pymilvus and milvus-lite).") from None
    if target.is_local:
        Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
        if _locked_by_another_process(Path(target.uri)):
            raise MilvusUnavailable(
                f"Another process has the milvus-lite folder {target.uri} open (the app or a command line run), and "
                "milvus-lite serves one process at a time. To use it from both, stop the other process and serve the "
                f"folder: `{server_command(target.uri)}`, then point both at it: "
                f"EXPLORER_MILVUS_URI=http://127.0.0.1:{DEFAULT_SERVER_PORT} (or --milvus-uri).")
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # it logs a failed connection with its arguments
    if target.is_local:
        # milvus-lite's embedded gRPC server (in this process) does not implement AllocTimestamp, which pymilvus asks
        # for while waiting on a new index and does without; grpc would print that refusal as a traceback
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=target.uri, token=target.token, timeout=15, **_channel_options(target))
    except Exception as exc:  # pymilvus raises its own exceptions, grpc ones, and OSError
        reason = str(exc).replace(target.token, "***") if target.token else str(exc)
        raise MilvusUnavailable(f"Could not open {target.label}: {reason[:300]}. " + (
            "Check that the folder is writable." if target.is_local else
            "Check that the server is running and reachable from here, and, when it needs one, that MILVUS_TOKEN "
            "holds its token.")) from None


def _channel_options(target: MilvusTarget) -> dict[str, Any]:
    """No keepalive pings while idle on this machine: milvus-lite's gRPC server (embedded, or `milvus-lite server`)
    keeps gRPC's default ping policy and answers a client that pings an idle connection every 10 s (pymilvus's
    default) with GOAWAY "too_many_pings", logged as an error. A remote server keeps pymilvus's defaults."""
    return {"grpc_options": {"grpc.keepalive_permit_without_calls": 0}} if target.on_this_machine else {}


def _locked_by_another_process(folder: Path) -> bool:
    """Whether milvus-lite's lock file in ``folder`` is held (a lock this process holds is not seen here: the
    client opened in this process is reused instead)."""
    lock = folder / "LOCK"
    if not lock.is_file():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def disconnect(target: MilvusTarget) -> None:
    """Closes this process's client of ``target``; for milvus-lite, stops its embedded server and frees the folder
    for another process."""
    with _clients_lock:
        client = _clients.pop(target.uri, None)
    if client is None:
        return
    client.close()
    if target.is_local:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(target.uri)

"""Keys that open a private saved data set from a link: a page's address carries the key of the data set it shows,
so a reload (a new browser session) opens it again, while a session that never saw the link cannot.

A key is an HMAC of the data set's folder name under a secret kept in the workspace (made once, readable by the
server's user only): nothing is stored per data set, and the folder name alone, which is a hash of the content, does
not open it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_FILE = ".dataset-links.key"
KEY_CHARACTERS = 24


def dataset_access_key(cache_dir: Path, folder_name: str) -> str:
    """The key that opens the saved data set ``folder_name`` from a link."""
    digest = hmac.new(_secret(cache_dir), folder_name.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:KEY_CHARACTERS]


def opens(cache_dir: Path, folder_name: str, key: str) -> bool:
    """Whether ``key`` is the link key of ``folder_name`` (compared in constant time)."""
    return bool(key) and hmac.compare_digest(dataset_access_key(cache_dir, folder_name), key)


def _secret(cache_dir: Path) -> bytes:
    """The workspace's secret, made on first use. It is written whole to a file of its own, then linked into place
    in one step, so two processes making it at once both end up with the one linked first, never a part of it."""
    path = cache_dir / SECRET_FILE
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = cache_dir / f"{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        try:
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return path.read_bytes()

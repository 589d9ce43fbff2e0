"""A cache folder of a test's own (its score store, judgements and data sets start empty) that shares the session's
converted model graphs and corpus embeddings, which such a test is not about: made once a session, not per test."""

from __future__ import annotations

import os
from pathlib import Path

# the session's cache folder, set by tests/conftest.py before any test module is imported
SESSION_CACHE = Path(os.environ["EXPLORER_CACHE_DIR"])
SHARED_PARTS = ("compiled", "embeddings")


def cache_sharing_models(folder: Path, parts: tuple[str, ...] = SHARED_PARTS) -> Path:
    """``folder`` made a cache folder whose model graphs and corpus embeddings (``parts`` of them) are the session's
    (linked); returns it. Everything else in it (scores.sqlite3, judgements.sqlite, datasets/) is the test's own."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in parts:
        (SESSION_CACHE / part).mkdir(parents=True, exist_ok=True)
        link = folder / part
        if not link.exists():
            link.symlink_to(SESSION_CACHE / part, target_is_directory=True)
    return folder

"""On-disk cache of corpus embeddings, keyed by model and corpus content. No pickle: .npy plus a JSON sidecar."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Iterable

import numpy as np

logger = logging.getLogger(__name__)


def cache_key(model_fingerprint: str, texts: Iterable[str], options: str = "") -> str:
    """Changes when the model, any text, the order of texts, or an embedding option changes."""
    digest = hashlib.sha256()
    digest.update(model_fingerprint.encode())
    digest.update(b"\x00" + options.encode() + b"\x00")
    for text in texts:
        encoded = text.encode("utf-8", errors="replace")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()[:32]


class EmbeddingCache:
    """Corpus embeddings in ``folder``: per key, a .npy matrix and a JSON sidecar with its checksum and shape."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.npy", self.folder / f"{key}.json"

    def load(self, key: str, expected_rows: int) -> np.ndarray | None:
        """The cached matrix, or None when it is absent or fails its checks (then it is rebuilt)."""
        vectors_path, meta_path = self._paths(key)
        if not (vectors_path.is_file() and meta_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            raw = vectors_path.read_bytes()
            if hashlib.sha256(raw).hexdigest() != meta["sha256"]:
                raise ValueError("checksum mismatch")
            vectors = np.load(vectors_path, allow_pickle=False)
            if vectors.shape != (expected_rows, meta["dim"]) or vectors.dtype != np.float32:
                raise ValueError(f"shape {vectors.shape} does not match {expected_rows} rows")
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            logger.warning("Ignoring damaged embedding cache entry %s (%s); it will be rebuilt.", key, exc)
            return None
        return vectors

    def save(self, key: str, vectors: np.ndarray, description: dict[str, str]) -> None:
        """Stores the vectors (float32) and their sidecar under ``key``; each file is written aside, then moved in."""
        self.folder.mkdir(parents=True, exist_ok=True)
        vectors_path, meta_path = self._paths(key)
        tmp_vectors = vectors_path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp_vectors, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
        meta = {"sha256": hashlib.sha256(tmp_vectors.read_bytes()).hexdigest(), "dim": int(vectors.shape[1]),
                "rows": int(vectors.shape[0]), **description}
        tmp_meta = meta_path.with_suffix(f".tmp{os.getpid()}.json")
        tmp_meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp_vectors, vectors_path)
        os.replace(tmp_meta, meta_path)

"""Embedding a corpus with the bi-encoder: normalised vectors, in chunks with progress, cached on disk."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from explorer.device import inference_context
from explorer.embedding_cache import EmbeddingCache, cache_key
from explorer.models import LoadedModel

logger = logging.getLogger(__name__)

# progress(done, total) is called after every chunk
Progress = Callable[[int, int], None]

CHUNK = 128


@dataclass(frozen=True)
class CorpusEmbeddings:
    vectors: np.ndarray  # (n_docs, dim), float32, unit length
    from_cache: bool
    seconds: float


def encode_texts(
    bi_encoder: LoadedModel, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None
) -> np.ndarray:
    import torch

    chunks: list[np.ndarray] = []
    total = len(texts)
    for start in range(0, total, CHUNK):
        batch = list(texts[start : start + CHUNK])
        with torch.inference_mode(), inference_context(bi_encoder.device):
            vectors = bi_encoder.model.encode(
                batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        chunks.append(np.asarray(vectors, dtype=np.float32))
        if progress is not None:
            progress(min(start + CHUNK, total), total)
    if not chunks:
        dim = bi_encoder.model.get_sentence_embedding_dimension() or 0
        return np.zeros((0, dim), dtype=np.float32)
    return _renormalise(np.concatenate(chunks))


def encode_query(bi_encoder: LoadedModel, text: str) -> np.ndarray:
    return encode_texts(bi_encoder, [bi_encoder.info.query_prefix + text])


def embed_corpus(
    bi_encoder: LoadedModel, texts: Sequence[str], cache: EmbeddingCache, progress: Progress | None = None,
    options: str = "",
) -> CorpusEmbeddings:
    """Vectors for every text, read from the cache when the same model already embedded the same texts."""
    started = time.perf_counter()
    max_len = getattr(bi_encoder.model, "max_seq_length", "")
    prefix = bi_encoder.info.document_prefix
    key = cache_key(bi_encoder.info.fingerprint, texts,
                    options=f"normalised;max_len={max_len};{bi_encoder.device.precision};prefix={prefix};{options}")
    cached = cache.load(key, expected_rows=len(texts))
    if cached is not None:
        if progress is not None:
            progress(len(texts), len(texts))
        return CorpusEmbeddings(cached, True, time.perf_counter() - started)
    vectors = encode_texts(bi_encoder, [prefix + text for text in texts] if prefix else texts, progress=progress)
    cache.save(key, vectors, {"model": bi_encoder.info.loaded, "precision": bi_encoder.device.precision})
    return CorpusEmbeddings(vectors, False, time.perf_counter() - started)


def _renormalise(vectors: np.ndarray) -> np.ndarray:
    """Unit length in float32 (reduced-precision encoding can leave norms slightly off 1)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)

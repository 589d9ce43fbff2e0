"""Embedding a corpus with the bi-encoder: normalised vectors, in chunks with progress, cached on disk."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from explorer.inference.tokenizing import tokenizing
from explorer.models.info import LoadedModel
from explorer.retrieval.embedding_cache import EmbeddingCache, cache_key

logger = logging.getLogger(__name__)

# progress(done, total) is called after every batch
Progress = Callable[[int, int], None]

CHUNK = 4096


@dataclass(frozen=True)
class CorpusEmbeddings:
    """A corpus's vectors, whether they came from the cache, and the seconds it took to get them."""

    vectors: np.ndarray  # (n_docs, dim), float32, unit length
    from_cache: bool
    seconds: float
    key: str = ""  # the embedding cache's key: model, texts and options (a Milvus collection is named after it)


def encode_texts(
    bi_encoder: LoadedModel, texts: Sequence[str], batch_size: int | None = None, progress: Progress | None = None
) -> np.ndarray:
    """Unit vectors in the order of ``texts``, through the fast engine (``explorer.inference.engine``).

    Texts go to the engine longest first, in chunks of ``CHUNK`` (so tokenised inputs stay small in memory
    however large the corpus); inside a chunk the engine batches them by token length."""
    engine = bi_encoder.engine
    total = len(texts)
    if total == 0:
        dim = bi_encoder.model.get_sentence_embedding_dimension() or 0
        return np.zeros((0, dim), dtype=np.float32)
    order = np.argsort([-len(text) for text in texts], kind="stable")
    vectors: np.ndarray | None = None
    for start in range(0, total, CHUNK):
        rows = order[start:start + CHUNK]

        def report(done: int, _: int, start: int = start) -> None:
            if progress is not None:
                progress(start + done, total)

        output = engine.run([texts[row] for row in rows], "sentence_embedding", progress=report, max_batch=batch_size)
        if vectors is None:
            vectors = np.empty((total, output.values.shape[1]), dtype=np.float32)
        vectors[rows] = output.values
    if vectors is None:
        raise RuntimeError("No chunk was embedded although there were texts; this is a bug.")
    return _renormalise(vectors)


def query_length(bi_encoder: LoadedModel, text: str) -> tuple[int, int]:
    """The query's length in the bi-encoder's tokens (untruncated, prefix and special tokens included) and the
    bi-encoder's limit: the model reads only the first ``limit`` tokens of a longer query."""
    tokenizer = bi_encoder.model.tokenizer
    with tokenizing(tokenizer):
        tokens = len(tokenizer(bi_encoder.info.query_prefix + text, truncation=False)["input_ids"])
    return tokens, int(bi_encoder.model.max_seq_length)


def encode_query(bi_encoder: LoadedModel, text: str) -> np.ndarray:
    """The query's unit vector, shape (1, dim), with the model's query prefix put in front."""
    return encode_texts(bi_encoder, [bi_encoder.info.query_prefix + text])


def embed_corpus(
    bi_encoder: LoadedModel, texts: Sequence[str], cache: EmbeddingCache, progress: Progress | None = None,
    options: str = "",
) -> CorpusEmbeddings:
    """Vectors for every text, read from the cache when the same model already embedded the same texts."""
    started = time.perf_counter()
    max_len = getattr(bi_encoder.model, "max_seq_length", "")
    prefix = bi_encoder.info.document_prefix
    # The backend is part of the key: bf16 through OpenVINO and bf16 in PyTorch give slightly different vectors.
    ran = bi_encoder.engine.info().label
    key = cache_key(bi_encoder.info.fingerprint, texts,
                    options=f"normalised;max_len={max_len};{ran};prefix={prefix};{options}")
    cached = cache.load(key, expected_rows=len(texts))
    if cached is not None:
        if progress is not None:
            progress(len(texts), len(texts))
        return CorpusEmbeddings(cached, True, time.perf_counter() - started, key)
    vectors = encode_texts(bi_encoder, [prefix + text for text in texts] if prefix else texts, progress=progress)
    cache.save(key, vectors, {"model": bi_encoder.info.loaded, "precision": bi_encoder.device.precision, "engine": ran})
    return CorpusEmbeddings(vectors, False, time.perf_counter() - started, key)


def _renormalise(vectors: np.ndarray) -> np.ndarray:
    """Unit length in float32 (reduced-precision encoding can leave norms slightly off 1)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)

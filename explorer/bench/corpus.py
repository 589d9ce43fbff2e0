"""Real text for the benchmark: rerank pairs, a corpus to embed, and a large corpus for end-to-end queries.

Everything is built from the sample data and, when the caller gives one, a second BEIR folder of real text
(``BenchConfig.extra_data``: ``--extra-data`` or the setting ``EXPLORER_BENCH_DATA``), deterministically, so two
runs on the same data measure the same work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.records import Dataset, Document, Query

# windows of words cut from the source texts to make a large corpus: (length, stride)
WINDOWS = ((64, 24), (96, 40), (48, 16), (128, 56), (32, 12), (40, 8), (80, 10))


@dataclass(frozen=True)
class RerankCase:
    """One query with its first-stage candidates: what a reranker reads for one search."""

    source: str
    query: str
    texts: tuple[str, ...]


def load_sources(sample: Path, extra: Path | None) -> list[Dataset]:
    """The benchmark's real text: the data set in ``sample``, then the one in ``extra`` when there is one."""
    from explorer.loading import load_beir

    sources = [load_beir(sample)]
    # Asked for by name, so a folder that is not BEIR is an error (load_beir says so), not silently skipped.
    if extra is not None:
        sources.append(load_beir(extra))
    return sources


def rerank_cases(sources: Sequence[Dataset], n_queries: int, depth: int) -> list[RerankCase]:
    """``n_queries`` queries, taken in turn from each source, each with its BM25 top ``depth`` documents."""
    from explorer.retrieval.bm25_index import Bm25Index

    per_source = []
    for dataset in sources:
        texts = [doc.full_text for doc in dataset.documents]
        index = Bm25Index(texts, [str(i) for i in range(len(texts))])
        queries = dataset.labelled_queries() or list(dataset.queries.values())
        cases = []
        for query in queries[: n_queries]:
            hits = index.search(query.text, depth)
            if len(hits) == depth:
                cases.append(RerankCase(dataset.name, query.text, tuple(texts[int(h.doc_id)] for h in hits)))
        per_source.append(cases)
    chosen: list[RerankCase] = []
    for round_ in range(n_queries):
        for cases in per_source:
            if round_ < len(cases) and len(chosen) < n_queries:
                chosen.append(cases[round_])
    if not chosen:
        raise ConfigError(f"No query of the benchmark data has {depth} candidates; use a smaller depth.")
    return chosen


def embedding_texts(sources: Sequence[Dataset], n_docs: int) -> list[str]:
    """Up to ``n_docs`` documents, taken in turn from each source."""
    pools = [[doc.full_text for doc in dataset.documents] for dataset in sources]
    texts: list[str] = []
    for position in range(max(len(pool) for pool in pools)):
        for pool in pools:
            if position < len(pool) and len(texts) < n_docs:
                texts.append(pool[position])
    return texts


def chunk_corpus(sources: Sequence[Dataset], size: int) -> Dataset:
    """A corpus of exactly ``size`` passages: windows of words of the source documents (several window
    lengths and offsets, so passages differ), spread evenly over all the windows there are."""
    windows: list[tuple[str, str]] = []  # (title, text)
    for length, stride in WINDOWS:
        for dataset in sources:
            for doc in dataset.documents:
                words = doc.text.split()
                for start in range(0, max(len(words) - length, 0) + 1, stride):
                    windows.append((doc.title, " ".join(words[start:start + length])))
        if len(windows) >= size:
            break
    if not windows:
        raise ConfigError("The benchmark sources have no text to cut into passages.")
    picks = np.linspace(0, len(windows) - 1, num=size).round().astype(int) if len(windows) >= size \
        else np.arange(size) % len(windows)
    documents = tuple(Document(f"p{number:06d}", windows[pick][0], windows[pick][1]) for number, pick in enumerate(picks))
    queries = {f"q{number}": Query(f"q{number}", query.text) for number, query in
               enumerate(q for dataset in reversed(sources) for q in dataset.queries.values())}
    return Dataset(f"bench-{size}", documents, queries)

"""Lexical first stage: BM25 over the corpus with ``bm25s`` (Lucene variant, English stop words, no stemming)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from explorer.errors import ConfigError
from explorer.records import Hit


@dataclass(frozen=True)
class Bm25Options:
    """BM25's k1 and b, and the stop-word list used when tokenising."""

    k1: float = 1.2
    b: float = 0.75
    stopwords: str = "en"

    @property
    def key(self) -> str:
        """The options as a short string, e.g. "bm25-k1=1.2-b=0.75-stop=en"."""
        return f"bm25-k1={self.k1:g}-b={self.b:g}-stop={self.stopwords}"


class Bm25Index:
    """BM25 over ``texts``; ``ids`` name them (document ids, or passage ids when documents are split)."""

    def __init__(self, texts: Sequence[str], ids: Sequence[str], options: Bm25Options = Bm25Options()) -> None:
        import bm25s

        if len(texts) != len(ids):
            raise ConfigError("BM25 needs one id per text.")
        if not texts:
            raise ConfigError("The corpus is empty; load documents before building a BM25 index.")
        self.options = options
        self.ids = list(ids)
        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each index build at DEBUG
        self._retriever = bm25s.BM25(k1=options.k1, b=options.b, method="lucene")
        tokens = bm25s.tokenize(list(texts), stopwords=options.stopwords, show_progress=False)
        self._retriever.index(tokens, show_progress=False)
        self._vocabulary = tokens.vocab

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, depth: int) -> list[Hit]:
        """The top ``depth`` texts with a positive score, best first (fewer when few texts share a query word)."""
        import bm25s

        words = bm25s.tokenize([query], stopwords=self.options.stopwords, return_ids=False, show_progress=False)[0]
        known = [w for w in words if w in self._vocabulary]
        if not known:
            return []
        scores = self._retriever.get_scores(known)
        depth = min(depth, len(self.ids))
        top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.lexsort((top, -scores[top]))]  # by score, ties by corpus order: stable across runs
        return [Hit(rank=r, doc_id=self.ids[i], score=float(scores[i])) for r, i in enumerate(top, start=1)
                if scores[i] > 0]

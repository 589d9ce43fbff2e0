"""Read less per pair: the reranker reads the window of a document that best matches the query, not its first tokens.

A cross-encoder's cost grows with the tokens it reads, and it reads a document from the start up to its limit, so
on long documents it pays for text the query does not touch and may never reach the part that answers. With a
window of ``max_tokens`` document tokens, every window (``stride`` apart) is weighed by the query's words it holds,
each weighted by its rarity in the corpus (idf, saturated per word as BM25 does), and the reranker reads the best
one after the document's title. A document no longer than the window, or one no window of which holds a query
word, is read from its start, as without windows.

The choice depends only on the query, the document and the corpus, never on the other candidates, so a pair reads
the same text in a search, an evaluation and the depth sweep, and the score cache answers it the same way.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from explorer.errors import ConfigError
from explorer.inference.tokenizing import tokenizing
from explorer.records import Document

_WORD = re.compile(r"\w+", re.UNICODE)
TERM_SATURATION = 1.2  # BM25's k1: a word found twice counts more than once, not twice as much


@dataclass(frozen=True)
class WindowOptions:
    """How much of a document the reranker reads: ``max_tokens`` tokens of its text (after its title), the best
    of the windows starting every ``stride`` tokens (0: half a window)."""

    max_tokens: int = 128
    stride: int = 0

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ConfigError(f"The reranker's window needs at least 16 tokens, got {self.max_tokens}.")
        if not 0 <= self.stride <= self.max_tokens:
            raise ConfigError(f"The window's stride must be between 1 and the window ({self.max_tokens}) tokens "
                              f"(0 for half a window), got {self.stride}.")

    @property
    def step(self) -> int:
        """Tokens between the starts of two windows."""
        return self.stride or max(1, self.max_tokens // 2)

    @property
    def key(self) -> str:
        """The options as a short string, e.g. "window=128/64"."""
        return f"window={self.max_tokens}/{self.step}"

    @classmethod
    def parse(cls, text: str) -> "WindowOptions":
        """The command line's form: ``N`` tokens, or ``N/S`` with a stride of ``S``."""
        size, _, stride = text.strip().partition("/")
        try:
            return cls(int(size), int(stride) if stride else 0)
        except ValueError:
            raise ConfigError(f"--window takes N or N/STRIDE in tokens, e.g. 128 or 128/64; got {text!r}.") from None


def words(text: str) -> list[str]:
    """The text's words, lower-cased (letters and digits; punctuation splits words)."""
    return _WORD.findall(text.lower())


class DocumentFrequencies:
    """In how many of a corpus's texts each word occurs; counted on first use (one pass over the texts)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._texts = texts
        self._counts: Counter[str] | None = None
        self._total = 0
        self._lock = threading.Lock()

    def idf(self, word: str) -> float:
        """BM25's (Lucene's) idf: rare words weigh more, and no word weighs less than nothing."""
        counts = self._counted()
        found = counts.get(word, 0)
        return math.log(1.0 + (self._total - found + 0.5) / (found + 0.5))

    def _counted(self) -> Counter[str]:
        with self._lock:
            if self._counts is None:
                counts: Counter[str] = Counter()
                total = 0
                for text in self._texts:
                    counts.update(set(words(text)))
                    total += 1
                self._counts, self._total = counts, total
            return self._counts


def window_weight(window_words: Sequence[str], query_weights: dict[str, float]) -> float:
    """How well a window matches the query: each query word it holds, by its idf, saturated by how often it occurs."""
    return counted_weight(Counter(window_words), query_weights)


def counted_weight(window_counts: Counter[str], query_weights: dict[str, float]) -> float:
    """``window_weight`` from the window's word counts (kept per document: a window's words do not depend on the
    query); summed in the words' order in the window, as ``window_weight`` sums them."""
    return sum(query_weights[word] * count * (TERM_SATURATION + 1) / (count + TERM_SATURATION)
               for word, count in window_counts.items() if word in query_weights)


class BestWindows:
    """The text a reranker reads of each document for a query: its title and its best window (see above)."""

    def __init__(self, tokenizer: Any, frequencies: DocumentFrequencies, options: WindowOptions) -> None:
        self.tokenizer = tokenizer
        self.frequencies = frequencies
        self.options = options
        self._offsets: dict[str, list[tuple[int, int]]] = {}
        # each long document's windows: where each starts (in tokens) and its word counts, made on first use
        self._windows: dict[str, list[tuple[int, Counter[str]]]] = {}

    def text(self, query: str, doc: Document) -> str:
        """What the reranker reads of ``doc`` for ``query``."""
        return self.texts(query, [doc])[0]

    def texts(self, query: str, docs: Sequence[Document]) -> list[str]:
        """What the reranker reads of each of ``docs`` for ``query``, in order."""
        self._tokenize([doc for doc in docs if doc.doc_id not in self._offsets])
        weights = {word: self.frequencies.idf(word) for word in set(words(query))}
        return [self._best(doc, weights) for doc in docs]

    def _tokenize(self, docs: Sequence[Document]) -> None:
        """Each document's token offsets in its text, kept (a document's tokens do not change)."""
        if not docs:
            return
        with tokenizing(self.tokenizer):
            encoded = self.tokenizer([doc.text for doc in docs], add_special_tokens=False,
                                     return_offsets_mapping=True, truncation=False, verbose=False)
        for doc, offsets in zip(docs, encoded["offset_mapping"]):
            self._offsets[doc.doc_id] = [tuple(pair) for pair in offsets]

    def _best(self, doc: Document, weights: dict[str, float]) -> str:
        offsets = self._offsets[doc.doc_id]
        size = self.options.max_tokens
        if len(offsets) <= size:
            return doc.full_text
        best_start, best_weight = 0, 0.0
        for start, counts in self._counted_windows(doc, offsets):
            weight = counted_weight(counts, weights)
            if weight > best_weight:  # ties keep the earlier window: a document is read from its start by default
                best_start, best_weight = start, weight
        window = offsets[best_start:best_start + size]
        prefix = f"{doc.title}. " if doc.title else ""
        return prefix + doc.text[window[0][0]:window[-1][1]]

    def _counted_windows(self, doc: Document, offsets: list[tuple[int, int]]) -> list[tuple[int, Counter[str]]]:
        """The start (in tokens) and word counts of each window of a document longer than a window, in order; the
        last one reaches the document's end."""
        kept = self._windows.get(doc.doc_id)
        if kept is None:
            size, kept = self.options.max_tokens, []
            for start in range(0, len(offsets) - size + self.options.step, self.options.step):
                window = offsets[start:start + size]
                kept.append((start, Counter(words(doc.text[window[0][0]:window[-1][1]]))))
                if start + size >= len(offsets):
                    break
            self._windows[doc.doc_id] = kept
        return kept

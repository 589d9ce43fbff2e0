"""Long documents as passages: token windows with overlap, and results grouped back to their document.

A passage is searched on its own; a document's first-stage score is its best passage's score (max-passage),
and the reranker reads that best passage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from explorer.errors import ConfigError
from explorer.inference.tokenizing import tokenizing
from explorer.records import Document, Hit


@dataclass(frozen=True)
class PassageOptions:
    """How long documents are split: passage length and overlap, in tokens."""

    max_tokens: int = 200
    overlap: int = 50

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ConfigError(f"Passages need at least 16 tokens, got {self.max_tokens}.")
        if not 0 <= self.overlap < self.max_tokens:
            raise ConfigError(f"Overlap must be at least 0 and under the passage length ({self.max_tokens}), "
                              f"got {self.overlap}.")

    @property
    def key(self) -> str:
        """The options as a short string, e.g. "passages=200/50"."""
        return f"passages={self.max_tokens}/{self.overlap}"


@dataclass(frozen=True)
class Passage:
    """One passage of a document: a window of its text after the document's title."""

    passage_id: str  # "<doc_id>#<n>", n from 0
    doc_id: str
    text: str  # the document's title, then the window of its text


def split_document(doc: Document, tokenizer: Any, options: PassageOptions) -> list[Passage]:
    """Windows of ``max_tokens`` tokens of the text, each starting ``max_tokens - overlap`` after the last."""
    with tokenizing(tokenizer):
        encoded = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                            verbose=False)
    offsets = encoded["offset_mapping"]
    prefix = f"{doc.title}. " if doc.title else ""
    if len(offsets) <= options.max_tokens:
        return [Passage(f"{doc.doc_id}#0", doc.doc_id, doc.full_text)]
    step = options.max_tokens - options.overlap
    passages = []
    for number, start in enumerate(range(0, len(offsets), step)):
        window = offsets[start:start + options.max_tokens]
        passages.append(Passage(f"{doc.doc_id}#{number}", doc.doc_id,
                                prefix + doc.text[window[0][0]:window[-1][1]]))
        if start + options.max_tokens >= len(offsets):
            break
    return passages


def split_documents(documents: Sequence[Document], tokenizer: Any, options: PassageOptions) -> list[Passage]:
    """The passages of every document, in document order (see ``split_document``)."""
    return [passage for doc in documents for passage in split_document(doc, tokenizer, options)]


@dataclass(frozen=True)
class OverLength:
    """How many texts exceed a model's token limit (they are truncated when that model reads them)."""

    count: int
    total: int
    max_tokens: int
    longest: int


def count_over_length(texts: Sequence[str], tokenizer: Any, max_tokens: int, reserved: int = 0,
                      batch: int = 512) -> OverLength:
    """``reserved`` tokens are kept for the query and special tokens (a cross-encoder reads both)."""
    limit = max_tokens - reserved
    over = longest = 0
    for start in range(0, len(texts), batch):
        with tokenizing(tokenizer):
            encoded = tokenizer(list(texts[start:start + batch]), add_special_tokens=False, truncation=False,
                                verbose=False)["input_ids"]
        lengths = [len(ids) for ids in encoded]
        over += sum(length > limit for length in lengths)
        longest = max([longest, *lengths])
    return OverLength(over, len(texts), limit, longest)


def best_passage_per_document(passage_hits: Sequence[Hit], doc_of: dict[str, str], depth: int) -> list[Hit]:
    """Document-level hits ranked by their best passage's score (max-passage), at most ``depth``."""
    best: dict[str, Hit] = {}
    for hit in passage_hits:  # already in descending score order
        doc_id = doc_of[hit.doc_id]
        if doc_id not in best:
            best[doc_id] = hit
    ranked = list(best.items())[:depth]
    return [Hit(rank, doc_id, hit.score, passage_id=hit.doc_id) for rank, (doc_id, hit) in enumerate(ranked, start=1)]

"""Attention of a cross-encoder on one (query, document) pair, and what the query attends to in the document.

``read_attention`` runs the reranker's transformer once on ``[CLS] query [SEP] document [SEP]`` with its
attention weights returned, and keeps them per layer and head. The aggregations read that record:

- ``query_to_document``: the query-token by document-token block of one layer (one head, or the mean of
  the heads), or of the attention rollout over all layers (Abnar and Zuidema, "Quantifying Attention Flow in
  Transformers", ACL 2020: each layer's head-averaged attention plus the identity for the residual path,
  rows renormalised, multiplied from the first layer up).
- ``top_document_words``: the document words that draw the most attention from the query. A word's weight
  is the sum of its wordpieces' weights, and a wordpiece's weight is its attention from the query tokens,
  averaged over them.
- ``window``: the same record cut to the query and a window of document tokens around the part the query
  attends to most, so that views which draw every token pair stay readable and fast.

Special tokens ([CLS], [SEP]) are left out of the query-to-document block: they take much of the attention
in every layer as a no-op target, which would drown out the words.
"""

from __future__ import annotations

import copy
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from explorer.inference.device import inference_context
from explorer.errors import AttentionUnavailableError, ConfigError
from explorer.models.info import LoadedModel

logger = logging.getLogger(__name__)

Layer = int | Literal["rollout"]
ROLLOUT: Literal["rollout"] = "rollout"


@dataclass(frozen=True, eq=False)
class PairAttention:
    """Tokens and attention weights of one (query, document) pair as the reranker read it.

    ``attentions`` has shape (layers, heads, tokens, tokens); row i holds where token i attends, so each row
    sums to 1 over the tokens read (in a ``window`` record, over the tokens kept plus those left out).
    """

    query: str
    document: str
    tokens: tuple[str, ...]
    sentence_b_start: int  # position of the first document token: the query/document boundary
    query_positions: tuple[int, ...]  # query wordpieces, special tokens left out
    document_positions: tuple[int, ...]  # document wordpieces, special tokens left out
    word_ids: tuple[int | None, ...]  # word index within its own text; None for special tokens
    offsets: tuple[tuple[int, int], ...]  # character span within its own text; (0, 0) for special tokens
    attentions: np.ndarray
    document_tokens_total: int  # document wordpieces before truncation
    document_tokens_read: int  # document wordpieces the reranker read (fewer when the pair was truncated)
    max_length: int  # the most tokens the reranker reads for a pair
    # set by ``window``: the document tokens kept, as [start, end) in the order read; None for the full record
    document_window: tuple[int, int] | None = None
    notes: tuple[str, ...] = ()  # what was cut, in words

    @property
    def layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def heads(self) -> int:
        return int(self.attentions.shape[1])

    @property
    def truncated(self) -> bool:
        return self.document_tokens_total > self.document_tokens_read


@dataclass(frozen=True, eq=False)
class QueryDocumentAttention:
    """Attention from each query token (rows) to each document token (columns)."""

    query_tokens: tuple[str, ...]
    document_tokens: tuple[str, ...]
    document_positions: tuple[int, ...]  # positions of the columns in the record's tokens
    weights: np.ndarray  # (query tokens, document tokens)
    layer: Layer
    head: int | None  # None: the mean of the heads
    document_window: tuple[int, int]  # the columns shown, as [start, end) in document-token order
    document_tokens_read: int

    @property
    def description(self) -> str:
        heads = "heads averaged" if self.head is None else f"head {self.head}"
        where = "attention rollout over all layers" if self.layer == ROLLOUT else f"layer {self.layer}"
        return f"{where}, {heads}"


@dataclass(frozen=True)
class WordWeight:
    word: str
    start: int  # character span of the word in the document
    end: int
    weight: float
    positions: tuple[int, ...]  # its wordpieces in the record's tokens


def read_attention(reranker: LoadedModel, query: str, document: str, max_length: int | None = None) -> PairAttention:
    """Run the reranker's transformer on one pair and keep its attention weights.

    ``max_length`` defaults to what the reranker reads when it scores (its ``max_seq_length``); it may go up
    to the model's position limit. The reranker's own model is not changed: when it runs an attention
    kernel that cannot return weights (sdpa, flash), a twin sharing its weights runs with eager attention.
    """
    if not query.strip():
        raise ConfigError("The query is empty. Type a query to see what it attends to.")
    if not document.strip():
        raise ConfigError("The document has no text. Pick another document to see the attention.")
    cross_encoder = reranker.model
    network = _transformer_network(cross_encoder)
    tokenizer = _fast_tokenizer(cross_encoder)
    limit = _token_limit(cross_encoder, network, tokenizer, max_length)
    if getattr(_first_module(cross_encoder), "do_lower_case", False):
        query, document = query.lower(), document.lower()

    encoded = tokenizer(query, document, truncation="longest_first", max_length=limit,
                        return_offsets_mapping=True, return_tensors="pt")
    sequence_ids = encoded.sequence_ids(0)
    if 1 not in sequence_ids:
        raise ConfigError(f"The query fills all {limit} tokens the reranker reads, so no document token is left. "
                          "Shorten the query.")
    inputs = {name: encoded[name] for name in tokenizer.model_input_names if name in encoded}
    attentions = _attentions(reranker, network, inputs)

    tokens = tuple(tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist()))
    special = set(tokenizer.all_special_ids)
    ids = encoded["input_ids"][0].tolist()
    query_positions = tuple(i for i, s in enumerate(sequence_ids) if s == 0 and ids[i] not in special)
    document_positions = tuple(i for i, s in enumerate(sequence_ids) if s == 1 and ids[i] not in special)
    total = len(tokenizer(document, add_special_tokens=False, verbose=False)["input_ids"])
    notes: tuple[str, ...] = ()
    if total > len(document_positions):
        notes = ((f"The reranker reads at most {limit} tokens for a pair: it read {len(document_positions)} of the "
                  f"document's {total} tokens; the rest is not shown and did not count."),)
    return PairAttention(
        query=query, document=document, tokens=tokens, sentence_b_start=sequence_ids.index(1),
        query_positions=query_positions, document_positions=document_positions,
        word_ids=tuple(encoded.word_ids(0)), offsets=tuple(tuple(span) for span in encoded["offset_mapping"][0].tolist()),
        attentions=attentions, document_tokens_total=total, document_tokens_read=len(document_positions),
        max_length=limit, notes=notes,
    )


def _attentions(reranker: LoadedModel, network: Any, inputs: dict[str, Any]) -> np.ndarray:
    """(layers, heads, tokens, tokens) weights of one encoded pair, read-only."""
    import torch

    device = next(network.parameters()).device
    eager = _eager_twin(network)
    with torch.inference_mode(), inference_context(reranker.device):
        try:
            output = eager(**{name: value.to(device) for name, value in inputs.items()}, output_attentions=True)
        except (TypeError, ValueError, RuntimeError, IndexError) as exc:
            why = f"running it with attentions failed ({exc})"
            raise AttentionUnavailableError(_cannot(reranker.model, why)) from exc
    layers = getattr(output, "attentions", None)
    if not layers:
        raise AttentionUnavailableError(_cannot(reranker.model, "its model returned no attention weights"))
    attentions = np.stack([layer[0].float().cpu().numpy() for layer in layers]).astype(np.float32)
    attentions.setflags(write=False)
    return attentions


def attention_rollout(attentions: np.ndarray, rows: Sequence[int] | None = None) -> np.ndarray:
    """Attention rollout: how much each output position draws from each input token through all layers.

    Returns (tokens, tokens), or only the given ``rows`` (output positions), which is much cheaper on long
    pairs: the product is taken from the top layer down, starting from those rows.
    """
    if attentions.ndim != 4 or attentions.shape[-1] != attentions.shape[-2]:
        raise ConfigError(f"Attention rollout needs weights shaped (layers, heads, tokens, tokens), got {attentions.shape}.")
    size = attentions.shape[-1]
    identity = np.eye(size, dtype=np.float64)
    flow = identity if rows is None else identity[list(rows)]
    for layer in attentions[::-1]:
        mixed = 0.5 * layer.mean(axis=0, dtype=np.float64) + 0.5 * identity
        mixed /= mixed.sum(axis=-1, keepdims=True)
        flow = flow @ mixed
    return flow


def layer_attention(record: PairAttention, layer: Layer, head: int | None = None,
                    rows: Sequence[int] | None = None) -> np.ndarray:
    """(tokens, tokens) attention of one layer (one head or heads averaged), or the rollout over all layers.

    With ``rows``, only those rows (attending positions), in that order.
    """
    if layer == ROLLOUT:
        if head is not None:
            raise ConfigError("Attention rollout combines every head of every layer. To see one head, pick a layer.")
        if record.document_window is not None:
            raise ConfigError("Attention rollout needs every token read, and this record is a window of them. "
                              "Compute it on the record read_attention returned.")
        return attention_rollout(record.attentions, rows)
    if not isinstance(layer, int) or not 0 <= layer < record.layers:
        raise ConfigError(f"There is no layer {layer!r}: this model has layers 0 to {record.layers - 1}, "
                          f"or {ROLLOUT!r} for all of them.")
    picked = slice(None) if rows is None else list(rows)
    if head is None:
        return record.attentions[layer][:, picked].mean(axis=0)
    if not 0 <= head < record.heads:
        raise ConfigError(f"There is no head {head}: this model has heads 0 to {record.heads - 1}, "
                          "or None for their mean.")
    return record.attentions[layer, head][picked]


def query_to_document(record: PairAttention, layer: Layer = ROLLOUT, head: int | None = None,
                      max_document_tokens: int | None = None) -> QueryDocumentAttention:
    """The query-by-document block; with ``max_document_tokens``, only a window around the most-attended part.

    The weights are computed on every token read, so a window changes what is shown, not the values.
    """
    block = layer_attention(record, layer, head, rows=record.query_positions)[:, list(record.document_positions)]
    start, end = 0, len(record.document_positions)
    if max_document_tokens is not None and end > max_document_tokens:
        start, end = most_attended_window(block.mean(axis=0), max_document_tokens)
    columns = record.document_positions[start:end]
    return QueryDocumentAttention(
        query_tokens=tuple(record.tokens[i] for i in record.query_positions),
        document_tokens=tuple(record.tokens[i] for i in columns), document_positions=columns,
        weights=block[:, start:end], layer=layer, head=head, document_window=(start, end),
        document_tokens_read=len(record.document_positions),
    )


def most_attended_window(token_weights: Sequence[float] | np.ndarray, size: int) -> tuple[int, int]:
    """[start, end) of the ``size`` consecutive tokens with the largest total weight (the earliest on ties)."""
    if size < 1:
        raise ConfigError(f"A window needs at least one token, not {size}.")
    weights = np.asarray(token_weights, dtype=np.float64)
    if len(weights) <= size:
        return 0, len(weights)
    sums = np.convolve(weights, np.ones(size), mode="valid")
    start = int(np.argmax(sums))
    return start, start + size


def document_token_weights(block: QueryDocumentAttention) -> np.ndarray:
    """Each document token's attention from the query: its column averaged over the query tokens."""
    return block.weights.mean(axis=0)


def merge_wordpieces(document: str, positions: Sequence[int], word_ids: Sequence[int | None],
                     offsets: Sequence[tuple[int, int]], weights: Sequence[float]) -> tuple[WordWeight, ...]:
    """Whole words from wordpieces: consecutive pieces with the same word id are one word, weights summed.

    ``positions`` are the pieces' places in the token sequence; ``word_ids`` and ``offsets`` are indexed by
    those places, ``weights`` follows ``positions``. Words come back in document order.
    """
    if len(positions) != len(weights):
        raise ConfigError(f"{len(positions)} wordpieces but {len(weights)} weights: give one weight per piece.")
    words: list[WordWeight] = []
    for word_id, group in itertools.groupby(zip(positions, weights), key=lambda pair: word_ids[pair[0]]):
        pieces = list(group)
        start = offsets[pieces[0][0]][0]
        end = offsets[pieces[-1][0]][1]
        words.append(WordWeight(document[start:end], start, end, float(sum(w for _, w in pieces)),
                                tuple(p for p, _ in pieces)))
    return tuple(words)


def document_words(record: PairAttention, layer: Layer = ROLLOUT, head: int | None = None) -> tuple[WordWeight, ...]:
    """Every document word read, in document order, with its attention from the query."""
    weights = document_token_weights(query_to_document(record, layer, head))
    return merge_wordpieces(record.document, record.document_positions, record.word_ids, record.offsets, weights)


def top_document_words(record: PairAttention, count: int = 10, layer: Layer = ROLLOUT,
                       head: int | None = None) -> tuple[WordWeight, ...]:
    """The ``count`` document words with the most attention from the query, most first.

    Punctuation-only words are left out: like special tokens, they soak up attention as a no-op target.
    """
    if count < 1:
        raise ConfigError(f"Ask for at least one word, not {count}.")
    words = [w for w in document_words(record, layer, head) if any(ch.isalnum() for ch in w.word)]
    return tuple(sorted(words, key=lambda w: (-w.weight, w.start))[:count])


def window(record: PairAttention, max_document_tokens: int, max_query_tokens: int = 32) -> PairAttention:
    """The record cut to the query and a window of document tokens around the part the query attends to most.

    The most-attended part is found with the attention rollout. Special tokens stay. Views that draw every
    pair of tokens (bertviz) use this, so that a 512-token pair neither hangs the page nor turns into a blur.
    """
    if max_document_tokens < 1 or max_query_tokens < 1:
        raise ConfigError("A window needs at least one query token and one document token.")
    if record.document_window is not None:
        raise ConfigError("This record is already a window. Take the window of the record read_attention returned.")
    notes: list[str] = []
    kept_query = record.query_positions[:max_query_tokens]
    if len(kept_query) < len(record.query_positions):
        notes.append(f"Drawn: the first {len(kept_query)} of the query's {len(record.query_positions)} tokens.")
    start, end = 0, len(record.document_positions)
    if end > max_document_tokens:
        weights = document_token_weights(query_to_document(record, ROLLOUT))
        start, end = most_attended_window(weights, max_document_tokens)
        notes.append(f"Drawn: document tokens {start + 1}-{end} of the {len(record.document_positions)} read, "
                     "around the part the query attends to most. Lines to the tokens left out are not drawn.")
    if not notes:
        return record
    dropped = set(record.query_positions[len(kept_query):]) | set(record.document_positions[:start]) \
        | set(record.document_positions[end:])
    keep = [i for i in range(len(record.tokens)) if i not in dropped]
    new_index = {old: new for new, old in enumerate(keep)}
    attentions = record.attentions[:, :, keep][:, :, :, keep]
    attentions.setflags(write=False)
    document_positions = tuple(new_index[i] for i in record.document_positions[start:end])
    return replace(
        record, tokens=tuple(record.tokens[i] for i in keep), sentence_b_start=document_positions[0],
        query_positions=tuple(new_index[i] for i in kept_query), document_positions=document_positions,
        word_ids=tuple(record.word_ids[i] for i in keep), offsets=tuple(record.offsets[i] for i in keep),
        attentions=attentions, document_window=(start, end), notes=record.notes + tuple(notes),
    )


def _first_module(cross_encoder: Any) -> Any:
    try:
        return cross_encoder[0]
    except (TypeError, IndexError, KeyError):
        return None


def _transformer_network(cross_encoder: Any) -> Any:
    """The Hugging Face model inside a sentence-transformers CrossEncoder (its first module's ``model``)."""
    from sentence_transformers import CrossEncoder

    if not isinstance(cross_encoder, CrossEncoder):
        raise AttentionUnavailableError(_cannot(cross_encoder, "it is not a sentence-transformers CrossEncoder, "
                                                               "so it does not read query and document together"))
    module = _first_module(cross_encoder)
    network = getattr(module, "model", None) or getattr(module, "auto_model", None)
    if network is None or not hasattr(network, "config"):
        raise AttentionUnavailableError(_cannot(cross_encoder, "it is not a Hugging Face transformer inside a "
                                                               "sentence-transformers CrossEncoder"))
    return network


def _fast_tokenizer(cross_encoder: Any) -> Any:
    tokenizer = getattr(cross_encoder, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise AttentionUnavailableError(_cannot(cross_encoder, "it has no fast tokenizer, which is needed to map "
                                                               "wordpieces back to words"))
    return tokenizer


def _token_limit(cross_encoder: Any, network: Any, tokenizer: Any, max_length: int | None) -> int:
    ceilings = [getattr(network.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    ceiling = min((int(c) for c in ceilings if isinstance(c, int) and 0 < c < 100_000), default=512)
    if max_length is None:
        reads = getattr(cross_encoder, "max_seq_length", None)
        return min(int(reads), ceiling) if isinstance(reads, int) and reads > 0 else ceiling
    if not 8 <= max_length <= ceiling:
        raise ConfigError(f"Cannot read {max_length} tokens: this model reads between 8 and {ceiling} tokens.")
    return max_length


def _eager_twin(network: Any) -> Any:
    """The network itself if it runs eager attention, else a twin sharing its weights that does.

    The cached reranker is shared by every browser session, so its attention setting is never changed;
    the twin copies only the module structure and the config (parameters and buffers are the same tensors).
    """
    if getattr(network.config, "_attn_implementation", "eager") == "eager":
        return network
    shared: dict[int, Any] = {id(t): t for t in itertools.chain(network.parameters(), network.buffers())}
    twin = copy.deepcopy(network, memo=shared)
    try:
        twin.set_attn_implementation("eager")
    except (AttributeError, ValueError, ImportError) as exc:
        raise AttentionUnavailableError(
            f"This reranker runs {network.config._attn_implementation} attention, which cannot return attention "
            f"weights, and it cannot switch to eager attention ({exc}). Choose another reranker to see attention."
        ) from exc
    return twin


def _cannot(cross_encoder: Any, why: str) -> str:
    name = type(cross_encoder).__name__
    return (f"Cannot show attention for this reranker ({name}): {why}. Attention views work with BERT-like "
            "cross-encoders loaded by sentence-transformers; choose one of those in the sidebar.")

"""The model pass: a cross-encoder's attention on one (query, document) pair.

``read_attention`` runs the reranker's transformer once on ``[CLS] query [SEP] document [SEP]`` with its
attention weights returned, and keeps them per layer and head in a ``PairAttention`` record. What is read
from that record lives beside it: ``rollout`` (attention rollout, one layer or head, the query-to-document
block) and ``words`` (whole words, the most-attended words, a window of the pair small enough to draw).
"""

from __future__ import annotations

import copy
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.errors import AttentionUnavailableError, ConfigError
from explorer.inference.device import inference_context
from explorer.inference.tokenizing import tokenizing
from explorer.models.info import LoadedModel

logger = logging.getLogger(__name__)


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
        """How many layers the reranker has."""
        return int(self.attentions.shape[0])

    @property
    def heads(self) -> int:
        """How many attention heads each layer has."""
        return int(self.attentions.shape[1])

    @property
    def truncated(self) -> bool:
        """Whether part of the document was cut off because the pair was longer than the reranker reads."""
        return self.document_tokens_total > self.document_tokens_read


def read_attention(reranker: LoadedModel, query: str, document: str, max_length: int | None = None) -> PairAttention:
    """Run the reranker's transformer on one pair and keep its attention weights.

    ``max_length`` defaults to what the reranker reads when it scores (its ``max_seq_length``); it may go up
    to the model's position limit. The reranker's own model is not changed: when it runs an attention
    kernel that cannot return weights (sdpa, flash), a twin sharing its weights runs with eager attention.
    """
    if reranker.info.source == "remote":
        raise AttentionUnavailableError(
            f"The attention view needs a local model: {reranker.info.loaded} runs behind a remote API, which returns "
            "scores only. Choose a local reranker in the sidebar to see what it attends to.")
    if not query.strip():
        raise ConfigError("The query is empty. Type a query to see what it attends to.")
    if not document.strip():
        raise ConfigError("The document has no text. Pick another document to see the attention.")
    cross_encoder = reranker.model
    network = transformer_network(cross_encoder)
    tokenizer = fast_tokenizer(cross_encoder)
    limit = token_limit(cross_encoder, network, tokenizer, max_length)
    if getattr(first_module(cross_encoder), "do_lower_case", False):
        query, document = query.lower(), document.lower()

    with tokenizing(tokenizer):
        encoded = tokenizer(query, document, truncation="longest_first", max_length=limit,
                            return_offsets_mapping=True, return_tensors="pt")
        total = len(tokenizer(document, add_special_tokens=False, verbose=False)["input_ids"])
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


def first_module(cross_encoder: Any) -> Any:
    """The CrossEncoder's first module (the transformer wrapper), or None when it has none."""
    try:
        return cross_encoder[0]
    except (TypeError, IndexError, KeyError):
        return None


def transformer_network(cross_encoder: Any) -> Any:
    """The Hugging Face model inside a sentence-transformers CrossEncoder (its first module's ``model``)."""
    from sentence_transformers import CrossEncoder

    if not isinstance(cross_encoder, CrossEncoder):
        raise AttentionUnavailableError(_cannot(cross_encoder, "it is not a sentence-transformers CrossEncoder, "
                                                               "so it does not read query and document together"))
    module = first_module(cross_encoder)
    network = getattr(module, "model", None) or getattr(module, "auto_model", None)
    if network is None or not hasattr(network, "config"):
        raise AttentionUnavailableError(_cannot(cross_encoder, "it is not a Hugging Face transformer inside a "
                                                               "sentence-transformers CrossEncoder"))
    return network


def fast_tokenizer(cross_encoder: Any) -> Any:
    """The reranker's tokenizer; only a fast one gives the word ids and offsets that map pieces to words."""
    tokenizer = getattr(cross_encoder, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise AttentionUnavailableError(_cannot(cross_encoder, "it has no fast tokenizer, which is needed to map "
                                                               "wordpieces back to words"))
    return tokenizer


def token_limit(cross_encoder: Any, network: Any, tokenizer: Any, max_length: int | None) -> int:
    """How many tokens of the pair to read: ``max_length``, checked, or what the reranker reads when it scores."""
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
    """The message of an AttentionUnavailableError for this reranker, saying which rerankers work instead."""
    name = type(cross_encoder).__name__
    return (f"Cannot show attention for this reranker ({name}): {why}. Attention views work with BERT-like "
            "cross-encoders loaded by sentence-transformers; choose one of those in the sidebar.")

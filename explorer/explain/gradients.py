"""Integrated gradients: each token's share of the reranker's score, against a baseline with the document blanked.

Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep Networks" (ICML 2017), computed by Captum's
``LayerIntegratedGradients`` on the word-embedding layer. The baseline is the same pair with every document token
replaced by the padding token (the query and the special tokens kept), so the attributions share out the difference
between the score of the pair and the score of the query against a blank document. Completeness: the attributions
add up to that difference, up to the integral's approximation (``TokenAttribution.completeness_gap``); the page
shows the gap against ``TOLERANCE``.

It needs the local model's gradients, so it runs in PyTorch fp32 on a private copy of the reranker's modules (the
loaded reranker is shared by every session and is never hooked or changed).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.attention.model_pass import fast_tokenizer, first_module, token_limit, transformer_network
from explorer.attention.words import WordWeight, merge_wordpieces
from explorer.errors import AttentionUnavailableError, ConfigError
from explorer.models.info import LoadedModel

STEPS = 48  # points of the path integral (Gauss-Legendre)
# completeness holds when |sum of attributions - (score - baseline score)| is at most this share of the difference
# (or 0.02 of a logit, for a difference near 0)
TOLERANCE = 0.05


@dataclass(frozen=True)
class TokenAttribution:
    """Integrated gradients of one (query, document) pair: one value per document word, and the check."""

    words: tuple[WordWeight, ...]  # document words read, in order; ``weight`` is the attribution (a logit share)
    score: float  # the reranker's raw score of the pair (PyTorch fp32)
    baseline_score: float  # its score of the query against the blanked document
    attribution_sum: float  # every token's attribution added up (the query's and special tokens' are 0)
    steps: int

    @property
    def completeness_gap(self) -> float:
        """The sum of the attributions minus (score - baseline score): 0 for an exact integral."""
        return self.attribution_sum - (self.score - self.baseline_score)

    @property
    def complete(self) -> bool:
        """Whether the gap is within ``TOLERANCE`` of the score difference (or 0.02 for a difference near 0)."""
        return abs(self.completeness_gap) <= max(TOLERANCE * abs(self.score - self.baseline_score), 0.02)


class GradientExplainer:
    """Integrated gradients for one local reranker, on a private fp32 copy of its modules (made once; ``attribute``
    may be called from several threads, one at a time)."""

    def __init__(self, reranker: LoadedModel) -> None:
        if reranker.info.source == "remote":
            raise AttentionUnavailableError(f"Integrated gradients need the model's gradients: {reranker.info.loaded} "
                                            "runs behind a remote API, which returns scores only. Occlusion works "
                                            "for it.")
        network = transformer_network(reranker.model)
        self._tokenizer = fast_tokenizer(reranker.model)
        self._limit = token_limit(reranker.model, network, self._tokenizer, None)
        self._lower = bool(getattr(first_module(reranker.model), "do_lower_case", False))
        self._model = copy.deepcopy(reranker.model).float().eval()
        self._model.to("cpu")
        self._embeddings = transformer_network(self._model).get_input_embeddings()
        self._lock = threading.Lock()

    def attribute(self, query: str, document: str, steps: int = STEPS) -> TokenAttribution:
        """The attribution of every document word read (see the module's docstring)."""
        import torch
        from captum.attr import LayerIntegratedGradients

        if not query.strip() or not document.strip():
            raise ConfigError("Integrated gradients need a query and a document with text.")
        if steps < 2:
            raise ConfigError(f"The path integral needs at least 2 steps, not {steps}.")
        if self._lower:
            query, document = query.lower(), document.lower()
        encoded = self._tokenizer(query, document, truncation="longest_first", max_length=self._limit,
                                  return_offsets_mapping=True, return_tensors="pt")
        sequence_ids = encoded.sequence_ids(0)
        ids = encoded["input_ids"]
        special = set(self._tokenizer.all_special_ids)
        positions = [i for i, s in enumerate(sequence_ids) if s == 1 and int(ids[0, i]) not in special]
        if not positions:
            raise ConfigError("No document token fits beside this query in what the reranker reads; shorten the query.")
        baseline = ids.clone()
        baseline[0, positions] = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else 0
        extra = {name: encoded[name] for name in ("attention_mask", "token_type_ids") if name in encoded}

        def forward(input_ids: Any, *rest: Any) -> Any:
            features: dict[str, Any] = {"input_ids": input_ids, **dict(zip(extra, rest))}
            for module in self._model:
                features = module(features)
            scores = features["scores"]
            return scores[:, -1] if scores.ndim > 1 else scores

        with self._lock, torch.inference_mode(False), torch.enable_grad():
            batch = tuple(extra.values())
            with torch.no_grad():
                score = float(forward(ids, *batch)[0])
                blank = float(forward(baseline, *batch)[0])
            explainer = LayerIntegratedGradients(forward, self._embeddings)
            attributions = explainer.attribute(ids, baselines=baseline, additional_forward_args=batch,
                                               n_steps=steps, internal_batch_size=16)
        per_token = attributions.sum(dim=-1)[0].detach().numpy().astype(np.float64)
        offsets = [tuple(span) for span in encoded["offset_mapping"][0].tolist()]
        words = merge_wordpieces(document, positions, encoded.word_ids(0), offsets, per_token[positions].tolist())
        return TokenAttribution(words, score, blank, float(per_token.sum()), steps)


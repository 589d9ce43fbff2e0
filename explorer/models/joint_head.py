"""A reranker head that needs no training: the cosine between query and document halves of one joint pass.

The pair is read together as ``[CLS] query [SEP] document [SEP]``; the score is ``scale * cos(mean of the
query tokens, mean of the document tokens)``. It reuses what a sentence encoder already knows, so it ranks
far better than a freshly initialised classification head (which ranks at random), but it was never trained
for relevance, and the page says so.
"""

from __future__ import annotations

import torch
from sentence_transformers.base.modules import Module


class JointMeanCosine(Module):
    """The joint-cosine score head; tokens in ``special_token_ids`` are left out of both means. It has no weights."""

    config_keys = ["scale", "special_token_ids"]

    def __init__(self, scale: float = 20.0, special_token_ids: list[int] | None = None) -> None:
        super().__init__()
        self.scale = scale
        self.special_token_ids = list(special_token_ids or [])

    def forward(self, features: dict[str, torch.Tensor], **kwargs) -> dict[str, torch.Tensor]:
        """``features`` with "scores" added: ``scale`` times the cosine of the mean query and mean document token
        embeddings, one per pair (document tokens are those with token type 1)."""
        tokens = features["token_embeddings"]
        real = features["attention_mask"].bool()
        for token_id in self.special_token_ids:
            real &= features["input_ids"] != token_id
        in_document = features["token_type_ids"].bool()
        query_vec = _masked_mean(tokens, real & ~in_document)
        document_vec = _masked_mean(tokens, real & in_document)
        cosine = torch.nn.functional.cosine_similarity(query_vec, document_vec, dim=-1)
        features["scores"] = (self.scale * cosine).unsqueeze(-1)
        return features

    def save(self, output_path: str, *args, **kwargs) -> None:
        """Writes the head's config (scale, special token ids) to ``output_path``."""
        self.save_config(output_path)


def _masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

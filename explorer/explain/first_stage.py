"""The first stage's view of a document: the bi-encoder's cosine between the query and the document, and how it
changes with each piece taken out, so it can be set beside the reranker's occlusion ("why did it move")."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from explorer.explain.occlusion import Scorer
from explorer.models.info import LoadedModel


def bi_encoder_scorer(bi_encoder: LoadedModel) -> Scorer:
    """(query, texts) -> the cosine of the query's vector with each text's, as the dense first stage scores."""
    from explorer.retrieval.embedding import encode_query, encode_texts

    prefix = bi_encoder.info.document_prefix  # documents are embedded with it, as the index holds them

    def score(query: str, texts: Sequence[str]) -> np.ndarray:
        vectors = encode_texts(bi_encoder, [prefix + text for text in texts])
        return (vectors @ encode_query(bi_encoder, query)[0]).astype(np.float64)

    return score

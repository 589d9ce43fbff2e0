"""The model catalog: presets with sizes and speeds, prefixes applied where a model expects them."""

import numpy as np
import pytest

from explorer.errors import ConfigError
from explorer.models.catalog import CATALOG, find_preset, preset, presets
from explorer.models.info import LoadedModel
from explorer.retrieval.embedding import encode_query


def test_catalog_has_the_usual_models_with_sizes():
    rerankers = {p.name for p in presets("reranker")}
    assert {"cross-encoder/ms-marco-TinyBERT-L-2-v2", "cross-encoder/ms-marco-MiniLM-L-6-v2",
            "cross-encoder/ms-marco-MiniLM-L-12-v2", "cross-encoder/ms-marco-electra-base", "BAAI/bge-reranker-base",
            "BAAI/bge-reranker-v2-m3", "mixedbread-ai/mxbai-rerank-xsmall-v1"} <= rerankers
    assert {"sentence-transformers/all-MiniLM-L6-v2", "BAAI/bge-small-en-v1.5", "intfloat/e5-small-v2"} <= {
        p.name for p in presets("bi-encoder")}
    assert all(p.params_m > 0 and p.layers > 0 for p in CATALOG)
    tiny, base = preset("cross-encoder/ms-marco-TinyBERT-L-2-v2"), preset("BAAI/bge-reranker-base")
    assert tiny.expected_per_second > base.expected_per_second
    assert "M params" in tiny.label and "pairs/s" in tiny.label


def test_unknown_preset_lists_the_known_ones():
    assert find_preset("nobody/nothing") is None
    with pytest.raises(ConfigError, match="Presets: cross-encoder/ms-marco-MiniLM-L-6-v2"):
        preset("nobody/nothing")


def test_query_prefix_changes_the_query_vector(bi_encoder):
    from dataclasses import replace

    prefixed = LoadedModel(bi_encoder.model, replace(bi_encoder.info, query_prefix="query: "), bi_encoder.device)
    plain = encode_query(bi_encoder, "reset the vpn")
    with_prefix = encode_query(prefixed, "reset the vpn")
    assert not np.allclose(plain, with_prefix)
    assert np.allclose(with_prefix, encode_query(bi_encoder, "query: reset the vpn"), atol=1e-6)

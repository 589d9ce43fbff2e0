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
    assert {"cross-encoder/ettin-reranker-17m-v1", "cross-encoder/ettin-reranker-150m-v1",
            "Alibaba-NLP/gte-reranker-modernbert-base", "mixedbread-ai/mxbai-rerank-base-v2"} <= rerankers
    assert all(p.params_m > 0 and p.layers > 0 for p in CATALOG)


def test_speeds_are_scaled_from_a_measurement_here_and_never_assumed(tmp_path):
    from explorer.models.measured_speed import measured_speed, record_speed, speed_of

    tiny, base = preset("cross-encoder/ms-marco-TinyBERT-L-2-v2"), preset("BAAI/bge-reranker-base")
    assert measured_speed(tmp_path, "reranker") is None
    assert tiny.label().endswith("speed not measured here yet") and "pairs/s" not in tiny.label()
    record_speed(tmp_path, "reranker", speed_of("cross-encoder/ms-marco-MiniLM-L-6-v2", 22.7, 64, 0.8, "torch · fp32"))
    measured = measured_speed(tmp_path, "reranker")
    assert measured is not None and measured.per_second == pytest.approx(80.0)
    assert measured_speed(tmp_path, "bi-encoder") is None
    assert tiny.expected_per_second(measured) == pytest.approx(80.0 * 22.7 / 4.4)
    assert tiny.expected_per_second(measured) > base.expected_per_second(measured)
    assert "~413 pairs/s here (est. from the size)" in tiny.label(measured)
    assert "80 pairs/s measured here" in preset("cross-encoder/ms-marco-MiniLM-L-6-v2").label(measured)
    (tmp_path / "measured_speed.json").write_text("not json")
    assert measured_speed(tmp_path, "reranker") is None  # a damaged record is no measurement


def test_a_hub_model_out_of_reach_is_named_so_before_it_is_chosen(settings):
    from explorer.models.resolution import out_of_reach

    assert out_of_reach("cross-encoder/ettin-reranker-17m-v1", settings, hub_check=lambda s: False)
    assert not out_of_reach("cross-encoder/ettin-reranker-17m-v1", settings, hub_check=lambda s: True)
    assert not out_of_reach("packaged/all-MiniLM-L6-v2", settings, hub_check=lambda s: False)
    assert not out_of_reach("rerank-api:http://127.0.0.1:9/", settings, hub_check=lambda s: False)


def test_unknown_preset_lists_the_known_ones():
    assert find_preset("nobody/nothing") is None
    with pytest.raises(ConfigError, match="Presets: cross-encoder/ms-marco-MiniLM-L-6-v2"):
        preset("nobody/nothing")


def test_query_prefix_changes_the_query_vector(bi_encoder):
    from dataclasses import replace

    # the same engine, so the two encodings differ only by the prefix (whatever path EXPLORER_ENGINE forces)
    prefixed = LoadedModel(bi_encoder.model, replace(bi_encoder.info, query_prefix="query: "), bi_encoder.device,
                           engine=bi_encoder.engine)
    plain = encode_query(bi_encoder, "reset the vpn")
    with_prefix = encode_query(prefixed, "reset the vpn")
    assert not np.allclose(plain, with_prefix)
    assert np.allclose(with_prefix, encode_query(bi_encoder, "query: reset the vpn"), atol=1e-6)

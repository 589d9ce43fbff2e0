"""One way to open a pipeline: the spec, its rules ("default", the blend), and both doors ranking alike."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.cli import main
from explorer.errors import ConfigError
from explorer.models.info import ModelInfo
from explorer.settings import DEFAULT_BI_ENCODER, DEFAULT_RERANKER
from explorer.spec import Blend, DirectParts, PipelineSpec, model_name, open_pipeline

ROOT = Path(__file__).resolve().parent.parent
QUERY = "the vpn client drops the connection every few minutes"


def card(blend: float) -> ModelInfo:
    return ModelInfo("r", "r", "trained here", "", recommended_blend=blend)


def test_default_names_the_default_models_and_nothing_else_is_renamed():
    assert model_name("default", "bi-encoder") == DEFAULT_BI_ENCODER
    assert model_name(" default ", "reranker") == DEFAULT_RERANKER
    assert model_name("owner/model", "reranker") == "owner/model"
    spec = PipelineSpec(reranker=None)
    assert spec.bi_encoder_name == DEFAULT_BI_ENCODER and spec.reranker_name is None


@pytest.mark.parametrize(("blend", "info", "weight"), [
    (Blend("card"), card(0.5), 0.5),
    (Blend("card"), card(1.0), 1.0),
    (Blend("alone"), card(0.5), 1.0),
    (Blend("custom", 0.3), card(0.5), 0.3),
    (Blend("custom", 0.3), None, 1.0),  # no reranker: nothing to blend
])
def test_the_blend_rule(blend, info, weight):
    assert blend.weight_for(info) == weight


@pytest.mark.parametrize(("text", "expected"), [("card", Blend("card")), ("ALONE", Blend("alone")),
                                                ("0.25", Blend("custom", 0.25))])
def test_blend_from_the_command_line(text, expected):
    assert Blend.parse(text) == expected


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Blend.parse("half"), "--blend takes 'card', 'alone' or a number"),
    (lambda: Blend("custom", 1.5), "between 0 and 1"),
    (lambda: Blend("median"), "Unknown blend"),  # type: ignore[arg-type]
    (lambda: PipelineSpec(depth=0), "between 1 and"),
    (lambda: PipelineSpec(first_stage_method="sparse"), "Unknown first stage"),  # type: ignore[arg-type]
])
def test_bad_specs_say_what_to_do(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_open_pipeline_uses_the_score_cache_it_is_given(settings):
    from explorer.rerank.score_cache import ScoreCache

    scores = ScoreCache()
    opened = open_pipeline(PipelineSpec(depth=12, blend=Blend("custom", 0.5)), DirectParts(settings), scores)
    first = opened.search(QUERY)
    assert opened.blend == 0.5 and first.reranked is not None and len(first.reranked) == 12
    assert scores.stats().size == 12
    again = opened.search(QUERY)
    assert scores.stats().hits == 12 and [h.doc_id for h in again.reranked] == [h.doc_id for h in first.reranked]


@pytest.mark.slow
def test_the_command_line_and_the_search_page_rank_a_query_identically(capsys):
    """Same query, same configuration (hybrid first stage, passages, a custom blend): same order, same scores."""
    top = 20
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for key, value in {"first_stage": "hybrid", "blend_mode": "custom blend", "blend_weight": 0.5,
                       "split_passages": True, "passage_tokens": 128, "passage_overlap": 32, "depth": 50,
                       "top_n": top, "query": QUERY, "picked_query": None}.items():
        app.session_state[key] = value
    app.run()
    assert not app.exception, app.exception
    page_first, page_reranked = (frame.value for frame in app.dataframe)

    assert main(["search", QUERY, "--json", "--first-stage", "hybrid", "--blend", "0.5", "--passages", "128",
                 "--passage-overlap", "32", "--depth", "50"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["first_stage_method"] == "hybrid" and len(cli["reranked"]) == 50

    assert list(page_first["doc_id"]) == [hit["doc_id"] for hit in cli["first_stage"][:top]]
    assert list(page_first["score"]) == [round(hit["score"], 4) for hit in cli["first_stage"][:top]]
    assert list(page_reranked["doc_id"]) == [hit["doc_id"] for hit in cli["reranked"][:top]]
    assert list(page_reranked["score"]) == [round(hit["score"], 4) for hit in cli["reranked"][:top]]
    assert list(page_reranked["blended"]) == [round(hit["fused_score"], 4) for hit in cli["reranked"][:top]]
    # the blend moved something, so the comparison is not of two copies of the first stage
    assert [hit["doc_id"] for hit in cli["reranked"][:top]] != [hit["doc_id"] for hit in cli["first_stage"][:top]]

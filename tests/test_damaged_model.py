"""A default reranker whose files are damaged: explained everywhere, the stand-in runs, the set-up rebuilds it."""

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from explorer.cli import main
from explorer.errors import ModelLoadError
from explorer.models.packaged import PACKAGED_RERANKER, TRAINED_RERANKER
from explorer.models.resolution import expected_stand_in, load_reranker
from explorer.models.trained import DEFAULT_RERANKER_DIR, read_card
from explorer.settings import DEFAULT_RERANKER, Settings
from explorer.training.default_model import default_reranker_problem
from tests.test_app import ROOT


@pytest.fixture
def damaged(trained_folder, tmp_path):
    """Settings whose models folder holds the default reranker with its weights cut in half."""
    settings = Settings(cache_dir=tmp_path / "cache", hub_mode="offline", models_dir=tmp_path / "models")
    folder = shutil.copytree(trained_folder, settings.models_dir / DEFAULT_RERANKER_DIR)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return settings


@pytest.fixture
def damaged_copy(tmp_path):
    """Settings whose models folder holds a default reranker (a copy of the packaged encoder with a card, as the
    set-up leaves one, without training) whose weights were cut in half, as an interrupted copy leaves them."""
    import json

    from explorer.models.packaged import packaged_encoder_path
    from explorer.models.trained import CARD

    settings = Settings(cache_dir=tmp_path / "cache", hub_mode="offline", models_dir=tmp_path / "models")
    folder = shutil.copytree(packaged_encoder_path(), settings.models_dir / DEFAULT_RERANKER_DIR)
    (folder / CARD).write_text(json.dumps({"base": "all-MiniLM-L6-v2", "steps": 1}), encoding="utf-8")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return settings


@pytest.mark.slow
def test_the_command_line_says_the_default_rerankers_weights_are_damaged_and_how_to_rebuild(damaged_copy, monkeypatch,
                                                                                            caplog, capsys):
    """It used to switch to the untrained stand-in saying only that it is not trained for relevance."""
    import logging

    monkeypatch.setenv("EXPLORER_MODELS_DIR", str(damaged_copy.models_dir))  # the session's cache: its embeddings
    with caplog.at_level(logging.WARNING):
        assert main(["search", "vpn drops", "--depth", "10", "--top", "3", "--device", "cpu"]) == 0
    assert "reranker: MiniLM-L6 joint encoder (packaged encoder, no relevance training)" in capsys.readouterr().err
    said = [r.getMessage() for r in caplog.records if r.name == "explorer.models.resolution"]
    assert len(said) == 1
    assert "cannot be read" in said[0] and "damaged" in said[0]
    assert "python -m explorer build-default-reranker" in said[0] and PACKAGED_RERANKER in said[0]


def test_the_stand_in_runs_in_its_place_and_says_why(damaged, cpu):
    stand_in = load_reranker(DEFAULT_RERANKER, cpu, damaged)
    assert not stand_in.info.trained_for_relevance
    assert "cannot be read" in stand_in.info.note and "build-default-reranker" in stand_in.info.note
    with pytest.raises(ModelLoadError, match="cannot be read.*build-default-reranker"):
        load_reranker(TRAINED_RERANKER, cpu, damaged)
    assert "cannot be read" in default_reranker_problem(damaged)
    # a picker names the stand-in before anything is loaded (from the weights' header, not by loading them)
    assert expected_stand_in(DEFAULT_RERANKER, "reranker", damaged) == (
        f"the untrained stand-in ({PACKAGED_RERANKER}): the reranker trained here cannot be read")


def test_the_set_up_sets_a_damaged_model_aside_and_builds_it_again(damaged, trained_folder, monkeypatch, capsys):
    import explorer.training.default_model as default_model

    def build(settings, device, say, train_settings):  # training itself is tested elsewhere; this is about set-up
        say("building (test)")
        return shutil.copytree(trained_folder, settings.models_dir / DEFAULT_RERANKER_DIR)

    monkeypatch.setattr(default_model, "build_default_reranker", build)
    monkeypatch.setenv("EXPLORER_MODELS_DIR", str(damaged.models_dir))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(damaged.cache_dir))
    monkeypatch.setenv("EXPLORER_RERANK_INT8", "0")
    assert main(["build-default-reranker", "--if-needed", "--device", "cpu"]) == 0
    said = capsys.readouterr().err
    assert "cannot be read" in said and "building (test)" in said and "runs as" in said
    aside = [p for p in damaged.models_dir.iterdir() if p.name.startswith(f"{DEFAULT_RERANKER_DIR}.damaged-")]
    assert len(aside) == 1 and read_card(aside[0]) is not None
    assert default_reranker_problem(damaged) is None


@pytest.mark.slow
@pytest.mark.parametrize("page", ["app.py", "pages/2_Models.py"])
def test_the_pages_keep_working_with_a_damaged_default(damaged, monkeypatch, page):
    from ui import cache

    monkeypatch.setenv("EXPLORER_MODELS_DIR", str(damaged.models_dir))
    cache.settings.clear()
    cache.reranker.clear()
    try:
        app = AppTest.from_file(str(ROOT / page), default_timeout=300).run()
        assert not app.exception, app.exception
        shown = " ".join(m.value for m in [*app.warning, *app.info, *app.error, *app.caption])
        assert "cannot be read" in shown
        if page == "app.py":
            assert len(app.dataframe) == 2  # both stages, with the stand-in reranking
    finally:
        monkeypatch.undo()
        cache.settings.clear()
        cache.reranker.clear()

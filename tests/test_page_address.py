"""The page's address carries the data set, first stage, reranker, query and rater across a reload (a new session).
(That the sidebar's choices survive leaving the Train page is a real-browser test: tests/test_browser_sessions.py.)"""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer.loading import LoadSpec, TextSource, read_dataset
from explorer.loading.access import dataset_access_key, opens
from explorer.loading.store import save_dataset

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300
NONE = "none (first stage only)"


def new_session(**params: str) -> AppTest:
    """A new browser session (a reload) on the Search page at an address with ``params``."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    app.query_params.update(params)
    return app


def private_dataset(tmp_path: Path, name: str) -> Path:
    table = tmp_path / f"{name}.csv"
    table.write_text("id,text\n" + "".join(f"d{i},note {i} on rotating keys\n" for i in range(20)), encoding="utf-8")
    spec = LoadSpec(kind="table", name=name, corpus=TextSource.from_path(table), table_format="csv")
    root = Path(os.environ["EXPLORER_CACHE_DIR"]) / "datasets"
    return save_dataset(read_dataset(spec), root, shared=False)


def test_the_address_brings_back_first_stage_reranker_query_and_rater():
    app = new_session(data="sample", first_stage="bm25", reranker=NONE, q="the vpn drops", rater="Ana Lima").run()
    assert not app.exception, app.exception
    assert app.selectbox(key="first_stage").value == "bm25"
    assert app.selectbox(key="rr_choice").value == NONE
    assert app.text_input(key="query").value == "the vpn drops"
    assert app.text_input(key="rater").value == "Ana Lima"
    assert "candidates (bm25)" in " ".join(c.value for c in app.caption)


def test_each_run_writes_the_choices_into_the_address():
    app = new_session().run()
    assert not app.exception, app.exception
    app.text_input(key="rater").set_value("Bo").run()
    app.text_input(key="query").set_value("rotate the database password").run()
    params = app.query_params
    assert params["data"] == "sample" and params["first_stage"] == "dense" and params["rater"] == "Bo", params
    assert params["q"] == "rotate the database password" and params["reranker"], params
    assert "key" not in params  # the sample needs no key


def test_a_private_data_set_opens_from_its_address_only_with_its_key(tmp_path):
    folder = private_dataset(tmp_path, "private-notes")
    cache = Path(os.environ["EXPLORER_CACHE_DIR"])
    key = dataset_access_key(cache, folder.name)
    assert opens(cache, folder.name, key) and not opens(cache, folder.name, key[:-1] + "x") and not opens(
        cache, folder.name, "")

    with_key = new_session(data=folder.name, key=key, reranker=NONE).run()
    assert not with_key.exception, with_key.exception
    assert with_key.selectbox(key="dataset_choice").value == f"Loaded: {folder.name}"
    assert with_key.query_params["key"] == key

    without = new_session(data=folder.name, reranker=NONE).run()
    assert not without.exception, without.exception
    assert without.selectbox(key="dataset_choice").value.startswith("Sample")
    assert any("loaded privately" in w.value for w in without.warning)
    assert folder.name not in " ".join(without.selectbox(key="dataset_choice").options)


def test_the_picker_names_saved_data_sets_without_their_content_hash():
    from ui.sidebar import display_names

    labels = ["Sample: engineering knowledge base", "Loaded: Cranfield-bdd259d2a0", "Loaded: notes-0123456789",
              "Loaded: notes-abcdefabcd", "A BEIR folder on this machine…"]
    shown = display_names(labels)
    assert shown["Loaded: Cranfield-bdd259d2a0"] == "Loaded: Cranfield"
    assert shown["Loaded: notes-0123456789"] == "Loaded: notes (012345)"  # two of one name: told apart
    assert shown["Loaded: notes-abcdefabcd"] == "Loaded: notes (abcdef)"
    assert shown[labels[0]] == labels[0] and shown[labels[-1]] == labels[-1]

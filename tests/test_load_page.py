"""The Load data page in AppTest: good loads become the data set explored; bad ones say why and change nothing."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.loading import LoadSpec, TextSource, read_dataset
from explorer.loading.store import save_dataset
from explorer.settings import Settings
from tests.bad_inputs import BAD_INPUTS

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "3_Load_data.py")
FORMATS = ROOT / "tests" / "data" / "formats"


@pytest.fixture(scope="module")
def previous_label():
    """A data set loaded earlier, selected in the sidebar before each bad load."""
    corpus = TextSource.from_path(FORMATS / "corpus.jsonl")
    result = read_dataset(LoadSpec(kind="table", name="earlier", corpus=corpus))
    folder = save_dataset(result, Settings.from_env().cache_dir / "datasets")
    return "Loaded: " + folder.name


def page(**state):
    app = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def upload(app, key, pair):
    app.file_uploader(key=key).set_value((pair[0], pair[1], "application/octet-stream"))


def problem_lines(app):
    frames = [f.value for f in app.dataframe if {"problem", "file", "line"} <= set(f.value.columns)]
    if not frames:
        return []
    return [f"{r['file']} line {int(r['line'])}: {r['what happened']}" if r["line"] == r["line"] and r["line"]
            else f"{r['file']}: {r['what happened']}" for _, r in frames[0].iterrows()]


@pytest.fixture
def small_upload_limit(monkeypatch):
    from ui import cache

    monkeypatch.setenv("EXPLORER_MAX_UPLOAD_MB", "1")
    cache.settings.clear()
    yield
    monkeypatch.undo()
    cache.settings.clear()


def test_a_good_upload_is_loaded_reported_and_selected(previous_label):
    app = page(dataset_choice=previous_label)
    upload(app, "upload_corpus_table", ("office.jsonl", (FORMATS / "corpus.jsonl").read_bytes()))
    app.run()
    assert [s.value for s in app.selectbox if s.label == "Text column"] == ["body"]
    upload(app, "upload_queries", ("q.jsonl", (FORMATS / "queries.jsonl").read_bytes()))
    upload(app, "upload_labels", ("l.trec", (FORMATS / "labels.trec").read_bytes()))
    app.button(key="load_button").click().run()
    assert not app.exception and not app.error
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"Documents": "6", "Queries": "3", "Labelled queries": "3", "Labels": "5", "Warnings": "0"}
    assert app.session_state["dataset_choice"].startswith("Loaded: office-")
    lengths = [c.value for c in app.caption if c.value.startswith("Text length:")]
    assert lengths and "bi-encoder" in lengths[0] and "0 of 6 documents are longer" in lengths[0]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.name)
def test_bad_input_on_the_page(case, previous_label, request):
    if case.max_upload_mb != 200:
        request.getfixturevalue("small_upload_limit")
    app = page(dataset_choice=previous_label, load_kind=case.kind)
    upload(app, f"upload_corpus_{case.kind}", case.corpus)
    for role, pair in (("queries", case.queries), ("labels", case.labels)):
        if pair:
            upload(app, f"upload_{role}", pair)
    app.run()
    app.button(key="load_button").click().run()
    assert not app.exception, app.exception
    if case.outcome == "fatal":
        errors = [e.value for e in app.error]
        assert any(re.search(case.message, e) for e in errors), errors
        assert app.session_state["dataset_choice"] == previous_label  # nothing lost
    else:
        assert not app.error
        lines = problem_lines(app)
        assert any(re.search(case.message, line) for line in lines), lines
        assert {m.label: m.value for m in app.metric}["Documents"] == str(case.documents)
        assert app.session_state["dataset_choice"] != previous_label


def test_search_page_runs_on_a_loaded_corpus(previous_label):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    app.session_state["dataset_choice"] = previous_label
    app.session_state["query"] = "printer on the third floor"
    app.run()
    assert not app.exception and not app.error
    first, reranked = (frame.value for frame in app.dataframe[:2])
    assert first["doc_id"].iloc[0] == "printer-01" if "doc_id" in first else first["title"].iloc[0].startswith("Adding")
    assert len(reranked) == 6


def test_cranfield_through_the_page(cranfield_path, previous_label):
    app = page(dataset_choice=previous_label, load_kind="beir")
    app.text_input(key="folder_beir").set_value(str(cranfield_path)).run()
    app.button(key="load_button").click().run()
    assert not app.exception and not app.error
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Documents"], metrics["Queries"], metrics["Labels"]) == ("1,400", "225", "1,612")
    assert app.session_state["dataset_choice"].startswith("Loaded: cranfield-")

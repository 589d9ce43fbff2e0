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
    if "delimiter" in case.extra:
        app.selectbox(key="table_delimiter").set_value(case.extra["delimiter"]).run()
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


@pytest.mark.parametrize(("kind", "key", "path"), [("lines", "path_corpus_lines", "/etc/passwd"),
                                                   ("text_folder", "folder_text_folder", "/etc")])
def test_a_path_outside_the_data_folders_is_not_read(kind, key, path, previous_label):
    """Anyone who can open the page can type a path: the server's own files are refused, with the setting named."""
    app = page(dataset_choice=previous_label, load_kind=kind)
    app.text_input(key=key).set_value(path).run()
    app.button(key="load_button").click().run()
    assert not app.exception
    assert any("reads files only under its data folders" in e.value and "EXPLORER_DATA_DIRS" in e.value
               for e in app.error)
    assert app.session_state["dataset_choice"] == previous_label
    assert "root:" not in " ".join(str(frame.value) for frame in app.dataframe)


def refusal(path: str) -> str:
    """The words a page shows for a typed ``path`` outside the data folders: the setting, and the folders allowed now."""
    listed = ", ".join(str(root.resolve()) for root in Settings.from_env().readable_roots)
    return (f"{path}: this server reads files only under its data folders. Upload it instead (a folder as a zip), or "
            "have whoever runs the server set EXPLORER_DATA_DIRS to a folder holding it (the server's data folders "
            f"now: {listed}; EXPLORER_DATA_DIRS may name several, separated by ':').")


@pytest.mark.parametrize(("kind", "key", "path"), [("beir", "folder_beir", "/etc"),
                                                   ("text_folder", "folder_text_folder", "/etc"),
                                                   ("lines", "path_corpus_lines", "/etc/passwd"),
                                                   ("lines", "path_queries", "/etc/passwd")])
def test_a_refused_typed_path_shows_one_error_naming_the_setting_and_the_folders_allowed(kind, key, path,
                                                                                        previous_label):
    """One box, before Load and after it: the refusal, not also "no folder given" for the folder it refused."""
    app = page(dataset_choice=previous_label, load_kind=kind)
    app.text_input(key=key).set_value(path).run()
    assert [e.value for e in app.error] == [refusal(path)]
    app.button(key="load_button").click().run()
    assert not app.exception and [e.value for e in app.error] == [refusal(path)]
    assert app.session_state["dataset_choice"] == previous_label


def test_a_beir_folder_uploaded_as_a_zip_is_loaded_and_selected(previous_label):
    """A visitor on another machine cannot type a folder of theirs: they zip it and upload it, as the page says."""
    from explorer.loading import read_beir
    from explorer.settings import SAMPLE_DATA
    from tests.test_loading_formats import zip_of_folder

    app = page(dataset_choice=previous_label, load_kind="beir")
    assert "a BEIR folder or a folder of text files uploads as a zip" in app.caption[0].value
    upload(app, "upload_beir_zip", ("kb.zip", zip_of_folder(SAMPLE_DATA, "kb")))
    app.run()
    assert app.text_input(key="load_name").placeholder == "kb"
    app.button(key="load_button").click().run()
    assert not app.exception and not app.error
    expected = read_beir(SAMPLE_DATA).report
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Documents"], metrics["Queries"], metrics["Labels"]) == (
        f"{expected.documents:,}", f"{expected.queries:,}", f"{expected.labels:,}")
    assert app.session_state["dataset_choice"].startswith("Loaded: kb-")


def test_the_sidebar_does_not_open_a_folder_outside_the_data_folders():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    app.session_state["dataset_choice"] = "A BEIR folder on this machine…"
    app.session_state["dataset_path"] = "/etc"
    app.run()
    assert not app.exception and [e.value for e in app.error] == [refusal("/etc")]


def test_choosing_another_data_set_does_not_run_the_previous_query(previous_label):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    sample_query = app.text_input(key="query").value
    assert sample_query and not app.exception
    app.selectbox(key="dataset_choice").select(previous_label).run()
    assert not app.exception
    assert app.text_input(key="query").value != sample_query
    assert app.session_state["picked_query"] is None or app.text_input(key="query").value


def test_the_delimiter_choice(previous_label):
    """A semicolon CSV is sniffed (and said so); the Delimiter box sets it by hand; JSONL has no such box."""
    app = page(dataset_choice=previous_label)
    upload(app, "upload_corpus_table", ("office.csv", (FORMATS / "corpus_semicolon.csv").read_bytes()))
    app.run()
    box = app.selectbox(key="table_delimiter")
    assert box.label == "Delimiter" and box.options == ["(sniffed)", ",", ";", "tab", "|"] and box.value == "(sniffed)"
    assert [s.value for s in app.selectbox if s.label == "Text column"] == ["text"]
    app.button(key="load_button").click().run()
    assert not app.exception and not app.error
    assert any("read as semicolon-separated (';', sniffed" in line for line in problem_lines(app))
    app.selectbox(key="table_delimiter").set_value(";").run()
    app.button(key="load_button").click().run()
    assert {m.label: m.value for m in app.metric}["Warnings"] == "0"
    app.selectbox(key="table_delimiter").set_value(",").run()
    assert any("Choose the delimiter ';' (the Delimiter choice on the page" in e.value for e in app.error)
    upload(app, "upload_corpus_table", ("office.jsonl", (FORMATS / "corpus.jsonl").read_bytes()))
    app.run()
    assert not [s for s in app.selectbox if s.label == "Delimiter"]


@pytest.mark.parametrize("share", [False, True])
def test_a_loaded_data_set_is_listed_for_other_sessions_only_when_shared(share, previous_label):
    text = f"a private note {'shared' if share else 'kept'} " * 3 + "\nanother line of the same file\n"
    mine = page(dataset_choice=previous_label, load_kind="lines", load_share=share)
    upload(mine, "upload_corpus_lines", (f"notes-{share}.txt", text.encode()))
    mine.button(key="load_button").click().run()
    assert not mine.exception and not mine.error
    label = mine.session_state["dataset_choice"]
    shown = f"Loaded: notes-{share}"  # the picker shows the name without the folder's content hash
    assert label.startswith(shown + "-") and shown in mine.selectbox(key="dataset_choice").options
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()  # a fresh browser session
    assert (shown in other.selectbox(key="dataset_choice").options) == share
    if not share:  # nor can it be opened by typing its folder
        folder = Settings.from_env().cache_dir / "datasets" / label.removeprefix("Loaded: ")
        other.selectbox(key="dataset_choice").select("A BEIR folder on this machine…").run()
        other.text_input(key="dataset_path").set_value(str(folder)).run()
        assert any("another session and not shared" in e.value for e in other.error)
        assert not other.dataframe


def test_a_metadata_column_left_out_is_not_kept(previous_label):
    """Metadata columns offers every column not mapped to text, id or title, all chosen; one taken out is not loaded."""
    from explorer.loading import load_beir

    app = page(dataset_choice=previous_label)
    upload(app, "upload_corpus_table", ("office.jsonl", (FORMATS / "corpus.jsonl").read_bytes()))
    app.run()
    box = app.multiselect(key="map_metadata")
    assert box.label == "Metadata columns" and box.options == ["team", "date"] and box.value == ["team", "date"]
    assert any(c.value == "Map the columns. The columns chosen under Metadata columns are kept as metadata."
               for c in app.caption)
    box.unselect("team").run()
    app.button(key="load_button").click().run()
    assert not app.exception and not app.error
    folder = Settings.from_env().cache_dir / "datasets" / app.session_state["dataset_choice"].removeprefix("Loaded: ")
    documents = load_beir(folder).documents
    assert len(documents) == 6
    assert all(set(doc.metadata) == {"date"} for doc in documents)

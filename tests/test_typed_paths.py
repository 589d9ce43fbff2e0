"""Paths a visitor types on a page, and what the server reads for them: links inside a data folder, another
session's private data set, a model folder. The command line, run by the machine's own user, is not limited."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.errors import DataLoadError, ModelLoadError
from explorer.loading import LoadSpec, TextSource, read_dataset
from explorer.loading.paths import LINK_OUTSIDE
from explorer.loading.store import check_not_private, save_dataset
from explorer.models.resolution import expected_stand_in, load_bi_encoder, load_reranker, page_model_roots
from explorer.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SECRET = "the-secret-outside-the-data-folders"


@pytest.fixture
def folders(tmp_path):
    """A data folder (the only readable root) and a folder outside it holding a BEIR corpus, queries and labels."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    (outside / "qrels").mkdir(parents=True)
    (outside / "corpus.jsonl").write_text(json.dumps({"_id": "s1", "text": SECRET}) + "\n")
    (outside / "queries.jsonl").write_text(json.dumps({"_id": "sq", "text": SECRET}) + "\n")
    (outside / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    (outside / "secret.txt").write_text(SECRET + "\n")
    data.mkdir()
    return data, outside


def beir_folder(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "text": "the vpn drops at noon"}) + "\n"
                                         + json.dumps({"_id": "d2", "text": "printer jams"}) + "\n")
    return folder


# --- symbolic links inside a data folder -----------------------------------------------------------------------------

def test_links_in_a_beir_folder_that_lead_out_of_the_data_folders_are_skipped_with_a_note(folders):
    data, outside = folders
    folder = beir_folder(data / "beir")
    (folder / "queries.jsonl").symlink_to(outside / "queries.jsonl")
    (folder / "qrels" / "test.tsv").symlink_to(outside / "qrels" / "test.tsv")
    (data / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\n")
    (folder / "qrels" / "dev.tsv").symlink_to(data / "dev.tsv")  # a link that stays inside is followed
    result = read_dataset(LoadSpec(kind="beir", name="b", folder=folder, readable_roots=(data,)))
    assert SECRET not in json.dumps([q.text for q in result.dataset.queries.values()])
    assert list(result.dataset.splits) == ["dev"] and not result.dataset.queries
    skipped = [(p.kind, p.file, p.message) for p in result.report.problems if p.kind == "link outside"]
    assert skipped == [("link outside", "queries.jsonl", LINK_OUTSIDE),
                       ("link outside", "qrels/test.tsv", LINK_OUTSIDE)]
    assert "skipped" in LINK_OUTSIDE and "EXPLORER_DATA_DIRS" in LINK_OUTSIDE
    # the command line reads what its user can
    assert list(read_dataset(LoadSpec(kind="beir", name="b", folder=folder)).dataset.queries) == ["sq"]


def test_a_linked_corpus_or_qrels_folder_leading_out_is_not_read(folders):
    data, outside = folders
    folder = data / "linked"
    folder.mkdir()
    (folder / "corpus.jsonl").symlink_to(outside / "corpus.jsonl")
    with pytest.raises(DataLoadError, match="corpus.jsonl: a symbolic link that leads outside"):
        read_dataset(LoadSpec(kind="beir", name="b", folder=folder, readable_roots=(data,)))
    folder = beir_folder(data / "qrels-linked")
    shutil.rmtree(folder / "qrels")
    (folder / "qrels").symlink_to(outside / "qrels", target_is_directory=True)
    (outside / "qrels" / "hidden-names.trec").write_text("q1 0 d1 1\n")
    result = read_dataset(LoadSpec(kind="beir", name="b", folder=folder, readable_roots=(data,)))
    assert not result.dataset.splits
    assert [(p.kind, p.file) for p in result.report.problems] == [("link outside", "qrels")]  # nothing inside listed


def test_links_in_a_text_folder_that_lead_out_are_skipped_with_a_note(folders):
    data, outside = folders
    folder = data / "notes"
    folder.mkdir()
    (folder / "vpn.txt").write_text("VPN\nthe vpn drops at noon\n")
    (folder / "secret.txt").symlink_to(outside / "secret.txt")
    (folder / "elsewhere").symlink_to(outside, target_is_directory=True)
    result = read_dataset(LoadSpec(kind="text_folder", name="t", folder=folder, readable_roots=(data,)))
    assert [d.doc_id for d in result.dataset.documents] == ["vpn"]
    assert [(p.kind, p.file) for p in result.report.problems] == [("link outside", "elsewhere"),
                                                                  ("link outside", "secret.txt")]
    assert len(read_dataset(LoadSpec(kind="text_folder", name="t", folder=folder)).dataset.documents) == 2


@pytest.mark.slow
def test_the_judge_page_does_not_show_a_file_linked_from_outside_the_data_folders():
    """The case found: a link inside an allowed folder to a file elsewhere showed that file on the Judge page."""
    outside = Path(tempfile.mkdtemp(dir="/var/tmp" if Path("/var/tmp").is_dir() else None, prefix="outside-"))
    if any(outside.resolve().is_relative_to(root.resolve()) for root in Settings.from_env().readable_roots):
        shutil.rmtree(outside)
        pytest.skip("no writable folder outside the tests' data folders")
    try:
        (outside / "queries.jsonl").write_text(json.dumps({"_id": "q-secret", "text": SECRET}) + "\n")
        folder = beir_folder(Path(tempfile.mkdtemp(prefix="linked-beir-")))
        (folder / "queries.jsonl").symlink_to(outside / "queries.jsonl")
        app = AppTest.from_file(str(ROOT / "pages" / "9_Judge.py"), default_timeout=300)
        app.session_state["dataset_choice"] = "A BEIR folder on this machine…"
        app.session_state["dataset_path"] = str(folder)
        app.session_state["rater"] = "ann"
        app.run()
        assert not app.exception, app.exception
        shown = [str(e.value) for kind in ("markdown", "caption", "error", "warning", "info", "selectbox",
                                           "text_input", "dataframe") for e in app.get(kind)]
        shown += [str(option) for box in app.selectbox for option in box.options]
        assert not [text for text in shown if SECRET in text]
    finally:
        shutil.rmtree(outside, ignore_errors=True)


# --- zip members -----------------------------------------------------------------------------------------------------

def test_a_zip_member_whose_path_leads_out_of_the_zip_is_skipped_with_a_note():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("good.txt", "../../evil.txt", "/etc/cron.d/evil.txt", "C:/evil.txt", "docs\\..\\..\\evil.txt",
                     "picture.png", ".hidden.txt"):
            archive.writestr(name, b"text of " + name.encode())
    result = read_dataset(LoadSpec(kind="text_zip", name="z", corpus=TextSource.from_bytes("up.zip",
                                                                                           buffer.getvalue())))
    assert [d.doc_id for d in result.dataset.documents] == ["good"]
    notes = {p.file: (p.kind, p.message) for p in result.report.problems}
    for name in ("../../evil.txt", "/etc/cron.d/evil.txt", "C:/evil.txt", "docs\\..\\..\\evil.txt"):
        kind, message = notes[f"up.zip:{name}"]
        assert kind == "unsafe path" and "leads outside the zip's folder" in message and "skipped" in message
    assert notes["up.zip:picture.png"][0] == "skipped file" and "up.zip:.hidden.txt" not in notes


# --- another session's private data set -------------------------------------------------------------------------------

def test_a_typed_path_into_a_private_data_set_is_refused_unless_it_is_the_sessions_own_or_shared(tmp_path):
    root = tmp_path / "datasets"
    result = read_dataset(LoadSpec(kind="lines", name="notes", corpus=TextSource.from_bytes("n.txt", b"one\ntwo\n")))
    private = save_dataset(result, root, shared=False)
    for typed in (private, private / "corpus.jsonl", private / "qrels" / ".." / "corpus.jsonl", root):
        with pytest.raises(DataLoadError, match="another session and not shared|every saved data set"):
            check_not_private(typed, root, mine=set())
    assert check_not_private(private / "corpus.jsonl", root, mine={private.name}) == private / "corpus.jsonl"
    assert check_not_private(private, root, mine=None) == private  # a shared workspace: every one
    assert check_not_private(tmp_path / "elsewhere", root, mine=set()) == tmp_path / "elsewhere"
    (private / "sharing.json").write_text(json.dumps({"shared": True}))
    assert check_not_private(private, root, mine=set()) == private


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "key", "inside"), [("beir", "folder_beir", ""),
                                                     ("text_folder", "folder_text_folder", ""),
                                                     ("lines", "path_corpus_lines", "corpus.jsonl")])
def test_the_load_data_page_does_not_load_another_sessions_private_data_set(kind, key, inside):
    page = str(ROOT / "pages" / "3_Load_data.py")
    mine = AppTest.from_file(page, default_timeout=120)
    mine.session_state["load_kind"], mine.session_state["load_share"] = "lines", False
    mine.run()
    mine.file_uploader(key="upload_corpus_lines").set_value(("private-notes.txt", f"{SECRET} {kind}\nmore\n".encode(),
                                                            "text/plain"))
    mine.button(key="load_button").click().run()
    assert not mine.exception and not mine.error
    label = mine.session_state["dataset_choice"]
    folder = Settings.from_env().cache_dir / "datasets" / label.removeprefix("Loaded: ")
    other = AppTest.from_file(page, default_timeout=120)  # another browser session
    other.session_state["load_kind"] = kind
    other.run()
    other.text_input(key=key).set_value(str(folder / inside) if inside else str(folder)).run()
    other.button(key="load_button").click().run()
    assert not other.exception
    assert any("another session and not shared" in e.value for e in other.error), [e.value for e in other.error]
    assert other.session_state["dataset_choice"] != label and "last_report" not in other.session_state
    assert label not in other.selectbox(key="dataset_choice").options


# --- the model box -------------------------------------------------------------------------------------------------

@pytest.fixture
def model_settings(tmp_path):
    return Settings(cache_dir=tmp_path / "cache", hub_mode="offline", models_dir=tmp_path / "models",
                    data_dirs=(tmp_path / "data",))


def test_the_model_box_opens_no_folder_outside_the_data_and_models_folders_nor_says_if_one_exists(model_settings,
                                                                                                 tmp_path, cpu,
                                                                                                 monkeypatch):
    roots = page_model_roots(model_settings)
    assert roots == (*model_settings.readable_roots, model_settings.models_dir)
    (tmp_path / "elsewhere" / "model").mkdir(parents=True)
    refusals = []
    for name in (str(tmp_path / "elsewhere" / "model"), str(tmp_path / "elsewhere" / "missing"), "/etc", "~/",
                 "../../etc"):
        with pytest.raises(ModelLoadError, match="only under its data folders and its models folder") as refused:
            load_reranker(name, cpu, model_settings, folder_roots=roots)
        assert "EXPLORER_DATA_DIRS" in str(refused.value) and "EXPLORER_MODELS_DIR" in str(refused.value)
        refusals.append(str(refused.value).replace(repr(name), "NAME"))
    assert refusals[0] == refusals[1]  # a folder there or not: the same words
    # an owner/model name is a hub id, unless the model libraries would open it as a folder beside the server
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError, match="only under its data folders"):
        load_reranker("elsewhere/model", cpu, model_settings, folder_roots=roots)
    with pytest.raises(ModelLoadError, match="Could not load the reranker 'someone/not-a-model'"):
        load_reranker("someone/not-a-model", cpu, model_settings, folder_roots=roots)
    # under the models folder, the folder is looked at as before
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_reranker(str(model_settings.models_dir / "missing"), cpu, model_settings, folder_roots=roots)
    # a picker names no stand-in from a folder outside either
    assert expected_stand_in(str(tmp_path / "elsewhere" / "model"), "reranker", model_settings,
                             folder_roots=roots) is None


def test_the_model_box_loads_a_folder_under_the_data_folders_but_not_one_linked_from_outside(model_settings, cpu):
    from explorer.models.packaged import packaged_encoder_path

    data = model_settings.data_dirs[0]
    data.mkdir(parents=True)
    copy = shutil.copytree(packaged_encoder_path(), data / "encoder")
    loaded = load_bi_encoder(str(copy), cpu, model_settings, folder_roots=page_model_roots(model_settings))
    assert loaded.info.source == "local path"
    (data / "linked-encoder").symlink_to(packaged_encoder_path(), target_is_directory=True)
    with pytest.raises(ModelLoadError, match="only under its data folders"):
        load_bi_encoder(str(data / "linked-encoder"), cpu, model_settings,
                        folder_roots=page_model_roots(model_settings))
    # the command line opens any folder its user can
    assert load_bi_encoder(str(data / "linked-encoder"), cpu, model_settings).info.source == "local path"


@pytest.mark.slow
def test_the_search_pages_model_box_refuses_a_server_folder_with_the_setting_named():
    from ui.sidebar import OTHER

    errors = []
    for name in ("/usr/share", "/usr/share/no-such-model"):
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        app.session_state["rr_choice"] = OTHER
        app.session_state["rr_other"] = name
        app.run()
        assert not app.exception, app.exception
        shown = " ".join(e.value for e in app.error)
        assert "only under its data folders and its models folder" in shown and "EXPLORER_MODELS_DIR" in shown
        errors.append(shown.replace(repr(name), "NAME"))
    assert errors[0] == errors[1]


# --- the Train page's teacher -----------------------------------------------------------------------------------------

def test_a_train_request_made_on_a_page_names_folders_only_under_the_pages_roots(model_settings, tmp_path):
    """The teacher, the bi-encoder and the data folder, refused before anything loads; the command line is not held."""
    from explorer.training.run import TrainRequest, check_folders
    from explorer.training.trainer import TrainSettings

    (tmp_path / "elsewhere" / "model").mkdir(parents=True)
    page_request = TrainRequest(data=model_settings.cache_dir, out=model_settings.models_dir / "r",
                                settings=TrainSettings(loss="distill"), teacher="cross-encoder/ms-marco-MiniLM-L6-v2",
                                model_roots=page_model_roots(model_settings),
                                readable_roots=model_settings.readable_roots)
    check_folders(page_request)  # hub ids and folders under the roots pass
    for field, value, error in (("teacher", str(tmp_path / "elsewhere" / "model"), ModelLoadError),
                                ("bi_encoder", "/usr/share", ModelLoadError), ("data", Path("/etc"), DataLoadError)):
        with pytest.raises(error, match="only under its data folders"):
            check_folders(replace(page_request, **{field: value}))
        check_folders(replace(page_request, model_roots=None, readable_roots=None, **{field: value}))


def test_the_train_pages_teacher_box_opens_no_folder_outside_the_data_and_models_folders():
    app = AppTest.from_file(str(ROOT / "pages" / "4_Train.py"), default_timeout=300).run()
    app.selectbox(key="train_loss").set_value("distill").run()
    app.text_input(key="train_teacher").set_value("/usr/share").run()
    app.button(key="train_start").click().run()
    assert not app.exception, app.exception
    shown = " ".join(e.value for e in app.error)
    assert "'/usr/share': this server opens reranker folders only under its data folders and its models folder" in shown
    assert "EXPLORER_MODELS_DIR" in shown and not [h for h in app.subheader if h.value == "Training run"]

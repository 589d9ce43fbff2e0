"""The attention page in AppTest: its views, its messages, and the way there from a row of the Search page."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "5_Attention.py")
TIMEOUT = 300


def run(path: str = PAGE, **state) -> AppTest:
    app = AppTest.from_file(path, default_timeout=TIMEOUT)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def frames(app: AppTest) -> list[str]:
    return [frame.proto.srcdoc for frame in app.get("iframe")]


@pytest.fixture(scope="module")
def page():
    return run()


def test_first_visit_shows_a_labelled_pair_with_heatmap_and_words(page):
    assert not page.exception, page.exception
    assert not page.error
    assert page.text_input(key="attention_query").value and page.text_input(key="attention_doc_id").value
    assert any("6 layers × 12 heads" in c.value for c in page.caption)
    charts = page.get("plotly_chart")
    assert len(charts) == 1 and "attention rollout over all layers" in charts[0].proto.spec
    words = page.dataframe[0].value
    assert list(words.columns) == ["rank", "word", "attention"] and len(words) == 10
    highlighted = frames(page)[0]
    assert highlighted.count("<mark") == 10 and "<script" not in highlighted


def test_one_layer_and_head(page):
    page.selectbox(key="attention_layer").select(2).run()
    page.selectbox(key="attention_head").select(3).run()
    assert not page.exception and not page.error
    assert "layer 2, head 3" in page.get("plotly_chart")[0].proto.spec
    page.selectbox(key="attention_layer").select("rollout").run()
    assert page.selectbox(key="attention_head").disabled


@pytest.mark.parametrize("view", ["bertviz head view", "bertviz model view"])
def test_bertviz_views_carry_their_javascript(page, view):
    page.radio(key="attention_view").set_value(view).run()
    assert not page.exception and not page.error
    (shown,) = frames(page)
    assert "d3js.org v5.7.0" in shown and "cdnjs" not in shown
    assert any(c.value.startswith("✂ Drawn: document tokens") for c in page.caption)
    page.radio(key="attention_view").set_value("Heatmap and words").run()


def test_an_unknown_document_says_where_to_pick_one():
    app = run(_attention_request=("vpn drops", "no-such-doc"))
    assert not app.exception
    assert "There is no document 'no-such-doc'" in app.error[0].value


def test_no_reranker_says_to_choose_one():
    app = run(rr_choice="none (first stage only)")
    assert not app.exception and "choose one in the sidebar" in app.info[0].value


def test_a_row_of_the_search_page_opens_its_attention_and_keeps_the_sidebar():
    app = run(str(ROOT / "app.py"), depth=50)
    assert not app.exception
    assert app.button(key="reranked_attention").disabled  # nothing selected yet
    app.session_state["reranked_table"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    app.run()
    row = app.dataframe[1].value.iloc[2]
    query = app.text_input(key="query").value
    button = app.button(key="reranked_attention")
    assert not button.disabled and row["doc_id"] in button.label
    button.click().run()
    assert not app.exception and not app.error
    assert app.title[0].value == "See why: query-document attention"
    assert app.text_input(key="attention_query").value == query
    assert app.text_input(key="attention_doc_id").value == row["doc_id"]
    assert app.slider(key="depth").value == 50
    assert len(app.get("plotly_chart")) == 1


def test_after_a_switch_of_data_set_the_page_starts_from_a_pair_of_the_new_one(tmp_path):
    """The page kept the last data set's document id after a switch, and showed an error box."""
    from explorer.loading.beir import load_beir
    from explorer.settings import SAMPLE_DATA

    app = run()
    shown = app.text_input(key="attention_doc_id").value
    other = tmp_path / "other"
    (other / "qrels").mkdir(parents=True)
    (other / "corpus.jsonl").write_text("".join(
        f'{{"_id": "n{i}", "title": "", "text": "note {i} on rotating the signing keys"}}\n' for i in range(5)))
    (other / "queries.jsonl").write_text('{"_id": "q1", "text": "rotate the signing keys"}\n')
    (other / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tn3\t2\n")
    assert shown not in {d.doc_id for d in load_beir(other).documents} and load_beir(SAMPLE_DATA)
    app.session_state["dataset_choice"] = "A BEIR folder on this machine…"
    app.session_state["dataset_path"] = str(other)
    app.run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.text_input(key="attention_doc_id").value == "n3"
    assert app.text_input(key="attention_query").value == "rotate the signing keys"

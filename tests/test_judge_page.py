"""The Judge page in AppTest: a typed query judged blind, saved at once, and counted by Evaluate afterwards."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.judging.datasets import JUDGED_SPLIT, dataset_key
from explorer.judging.store import typed_query_id
from explorer.settings import SAMPLE_DATA

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300
pytestmark = pytest.mark.slow


def page(name: str, **state) -> AppTest:
    app = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=TIMEOUT)
    for key, value in {"depth": 10, **state}.items():
        app.session_state[key] = value
    return app.run()


def grade_button(app: AppTest, value: int):
    """The button of ``value`` for the document shown (each document's buttons have keys of their own)."""
    return next(b for b in app.button if b.key and b.key.startswith(f"judge_grade_{value}_"))


def stored(query_id: str, rater: str):
    from ui import cache

    return cache.judgements().judgements(dataset_key(SAMPLE_DATA), query_id, rater)


def test_without_a_rater_name_the_page_asks_for_one():
    app = page("9_Judge.py")
    assert not app.exception, app.exception
    assert "Rater" in app.info[0].value


def test_a_typed_query_is_judged_blind_and_saved_at_each_grade():
    rater, query = f"ann-{uuid.uuid4().hex[:6]}", "who can reset a forgotten vpn token for a contractor"
    app = page("9_Judge.py", rater=rater, judge_query=query)
    assert not app.exception, app.exception
    shown = " ".join(c.value for c in app.caption)
    query_id = typed_query_id(query)
    assert query_id in shown and "typed" in shown
    assert "0 of" in app.get("progress")[0].proto.text  # nothing judged yet
    # no rank, score or stage is shown beside the document being judged
    assert not app.dataframe or all("rank" not in frame.value.columns for frame in app.dataframe)
    grades = [3, 0, 2, 1, 0]
    for grade in grades:
        grade_button(app, grade).click().run()
        assert not app.exception, app.exception
    saved = stored(query_id, rater)
    assert [j.grade for j in saved] == grades and len({j.doc_id for j in saved}) == 5
    # a fresh session (a reload) finds the five grades and starts at the sixth document
    again = page("9_Judge.py", rater=rater, judge_query=query)
    assert "5 of" in again.get("progress")[0].proto.text
    assert "Document 6 of" in " ".join(m.value for m in again.markdown)
    # Evaluate now counts the typed query in the split of judged queries, with its coverage
    evaluate = page("6_Evaluate.py", rater=rater, eval_split=JUDGED_SPLIT)
    evaluate.button(key="run_eval").click().run()
    assert not evaluate.exception, evaluate.exception
    per_query = evaluate.dataframe(key="query_table").value
    assert query_id in set(per_query["query"])
    assert "judged@10" in " ".join(c.value for c in evaluate.caption)


def test_back_shows_the_last_grade_and_skip_moves_on():
    rater, query = f"bob-{uuid.uuid4().hex[:6]}", "how long are build caches kept"
    app = page("9_Judge.py", rater=rater, judge_query=query)
    grade_button(app, 2).click().run()
    app.button(key="judge_back").click().run()
    assert not app.exception, app.exception
    assert "your grade so far: 2" in " ".join(m.value for m in app.markdown)
    app.button(key="judge_skip").click().run()
    assert "Document 2 of" in " ".join(m.value for m in app.markdown)


def test_the_raters_view_shows_agreement_and_disagreements_sets_the_rule_and_opens_queries_to_judge(sample):
    from explorer.judging.store import Judgement
    from ui import cache

    key, store, tag = dataset_key(SAMPLE_DATA), cache.judgements(), uuid.uuid4().hex[:6]
    text = f"who keeps the on-call rota {tag}"
    query_id = store.add_queries(key, [text])[0]  # as an imported query set records it
    doc = sample.documents[0].doc_id
    store.put_many(key, [Judgement(query_id, doc, f"ann-{tag}", 3), Judgement(query_id, doc, f"bob-{tag}", 0)])
    app = page("9_Judge.py", rater=f"cat-{tag}", judge_view="Raters, import and export")
    assert not app.exception, app.exception
    assert "pairs judged by two raters or more" in " ".join(m.value for m in app.markdown)
    disagreements = app.dataframe(key="judge_disagreements").value
    row = disagreements[disagreements["query"] == text].iloc[0]
    assert row[f"ann-{tag}"] == 3 and row[f"bob-{tag}"] == 0 and row["spread"] == 3
    try:
        app.selectbox(key="judge_rule").set_value("strictest").run()
        assert store.rule(key) == "strictest"
        assert cache.labelled_dataset(str(SAMPLE_DATA)).qrels_by_split[JUDGED_SPLIT][query_id][doc] == 0
    finally:
        store.set_rule(key, "mean")  # the other tests' labels use the default rule
    # the recorded query waits for this rater; opening it judges it one document at a time
    app.selectbox(key="judge_waiting").set_value(query_id).run()
    app.button(key="judge_open_waiting").click().run()
    assert not app.exception, app.exception
    assert app.session_state["judge_query"] == text and app.session_state["judge_view"] == "One at a time"
    assert "Document 1 of" in " ".join(m.value for m in app.markdown)


def test_the_disagreements_table_names_each_query_once_and_gives_each_rater_a_column():
    from explorer.judging.agreement import Disagreement
    from ui.judging_panel import disagreement_rows

    long_query = "what does the on-call engineer do when the pager goes off at night and nobody answers " * 2
    found = [Disagreement("q1", "d1", {"ann": 2, "bob": 1}), Disagreement("q2", "d9", {"ann": 0, "bob": 3}),
             Disagreement("q1", "d2", {"ann": 2, "cat": 1, "query": 0})]
    rows, queries = disagreement_rows(found, {"q1": long_query, "q2": "short"}, lambda doc_id: f"title {doc_id}")
    # the widest disagreement's query first; q1's two documents together, its text on the first of them only
    assert [r["query"] for r in rows] == ["short", long_query, ""]
    assert queries == ["short", long_query, long_query]  # a picked row still knows its query
    assert [r["document"] for r in rows] == ["title d9", "title d2", "title d1"]
    assert rows[1] == {"query": long_query, "document": "title d2", "ann": 2, "cat": 1, "query (rater)": 0,
                       "spread": 2}
    assert rows[2]["ann"] == 2 and rows[2]["bob"] == 1 and "cat" not in rows[2]


@pytest.fixture
def one_to_four_folder(tmp_path):
    """A BEIR folder graded as Cranfield grades, 1-4 (4 a complete answer): eight documents, so a pool of the top 10
    of both stages holds all of them; q1 labels d1 (4) and d2 (1)."""
    import json

    folder = tmp_path / f"cranlike-{uuid.uuid4().hex[:6]}"
    (folder / "qrels").mkdir(parents=True)
    texts = ["lift on a thin wing at small angles of attack", "the lift of a wing rises with its angle of attack",
             "boundary layer transition on a flat plate", "heat transfer at hypersonic speeds",
             "buckling of thin cylindrical shells", "flutter of a swept wing", "shock waves ahead of blunt bodies",
             "skin friction in turbulent flow"]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": text}) + "\n"
                                                 for i, text in enumerate(texts)))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "how does a wing make lift"}) + "\n"
                                          + json.dumps({"_id": "q2", "text": "what makes a shell buckle"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t4\nq1\td2\t1\nq2\td4\t3\n")
    return folder


def folder_page(folder, **state) -> AppTest:
    return page("9_Judge.py", dataset_choice="A BEIR folder on this machine…", dataset_path=str(folder), **state)


def test_a_one_to_four_data_set_is_judged_on_its_own_grades_and_a_grade_4_is_saved(one_to_four_folder):
    rater = f"dee-{uuid.uuid4().hex[:6]}"
    app = folder_page(one_to_four_folder, rater=rater, judge_query="how does a wing make lift")
    assert not app.exception, app.exception
    keys = {b.proto.label for b in app.button if b.key and b.key.startswith("judge_grade_")}
    assert keys == {"0 · not relevant", "1 · related", "2 · relevant", "3 · relevant", "4 · the answer"}
    assert "Keys: 0, 1, 2, 3, 4 grade" in " ".join(c.value for c in app.caption)
    grade_button(app, 4).click().run()
    assert not app.exception and not app.error, (app.exception, app.error)
    from ui import cache

    saved = cache.judgements().judgements(dataset_key(one_to_four_folder), "q1", rater)
    assert [j.grade for j in saved] == [4]


def test_the_pool_leaves_out_documents_with_a_label_and_marks_the_unlabelled(one_to_four_folder):
    rater = f"eve-{uuid.uuid4().hex[:6]}"
    app = folder_page(one_to_four_folder, rater=rater, judge_query="how does a wing make lift")
    assert not app.exception, app.exception
    shown = " ".join(c.value for c in app.caption)
    assert "8 documents, of which 2 already have a label; 2 of them are left out." in shown
    assert "0 of 6 pooled documents" in app.get("progress")[0].proto.text  # d1 (4) and d2 (1) are not pooled
    assert "Document 1 of 6** · unlabelled" in " ".join(m.value for m in app.markdown)
    app.radio(key="judge_view").set_value("The whole pool as a list").run()
    table = app.dataframe[0].value  # the pool's editable table
    assert set(table["label"]) == {"unlabelled"} and not {"d1", "d2"} & set(table["doc_id"])
    # turned off, the labelled documents come back, marked, their grades hidden
    app.toggle(key="judge_only_unlabelled").set_value(False).run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert set(table.loc[table["doc_id"].isin(["d1", "d2"]), "label"]) == {"labelled"} and len(table) == 8
    assert "4" not in set(map(str, table["grade"].dropna()))


def test_without_a_query_the_page_points_at_what_it_really_shows(one_to_four_folder):
    app = folder_page(one_to_four_folder, rater=f"fay-{uuid.uuid4().hex[:6]}", judge_query="")
    assert not app.exception, app.exception
    said = app.info[0].value
    assert "Queries to judge" not in said  # no query set recorded for this data set: that list is not on the page
    assert "'Judge these results' on Search" in said and "'Raters, import and export'" in said

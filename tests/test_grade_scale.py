"""A data set's grade scale, read once from its labels: the default relevant-from grade, the Judge page's grades on a
1-4 scale (Cranfield's), saving and importing a grade 4, and pools that leave out what already has a label."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.errors import ConfigError
from explorer.grades import GradeScale
from explorer.judging.pool import judging_pool, labelled_elsewhere, left_out_of_pool
from explorer.judging.qrels_io import import_qrels
from explorer.judging.scale import judging_scale, scale_of
from explorer.judging.store import Judgement, JudgementStore
from explorer.records import Dataset, Document, Query
from tests.cache_support import cache_sharing_models


def one_to_four() -> Dataset:
    """Cranfield's scale in small: grades 1-4, 4 a complete answer, nothing graded "not relevant"."""
    documents = tuple(Document(f"d{i}", f"title {i}", "text") for i in range(6))
    return Dataset("tiny", documents, {"q1": Query("q1", "one"), "q2": Query("q2", "two")},
                   {"test": {"q1": {"d0": 4, "d1": 1}, "q2": {"d2": 2, "d3": 3}}})


@pytest.mark.parametrize(("qrels", "expected"), [
    ([{"q": {"a": 1, "b": 4}}], GradeScale(1, 4, 1, True)),  # Cranfield: every judged grade counts
    ([{"q": {"a": 0}}, {"r": {"b": 3}}], GradeScale(0, 3, 1, True)),  # the sample data, over both splits
    ([{"q": {"a": -2, "b": 2}}], GradeScale(-2, 2, 1, True)),  # spam graded -2 never counts as relevant
    ([{"q": {"a": 2, "b": 5}}], GradeScale(2, 5, 2, True)),
    ([], GradeScale(0, 3, 1, False)),  # no labels yet: the default 0-3
])
def test_the_scale_is_read_from_every_splits_labels(qrels, expected):
    assert GradeScale.of(qrels) == expected


def test_the_scale_is_a_property_of_the_data_set_and_says_what_it_is():
    data = one_to_four()
    assert data.grade_scale is data.grade_scale  # read once
    assert data.grade_scale.grades == (1, 2, 3, 4) and data.grade_scale.judging_grades == (0, 1, 2, 3, 4)
    assert data.grade_scale.describe() == "grades 1-4 (4 the best), relevant from 1"
    assert GradeScale(0, 3, 2).is_relevant(2) and not GradeScale(0, 3, 2).is_relevant(1)
    with pytest.raises(ConfigError, match="relevance starts at grade 1 or above"):
        GradeScale(0, 3, 0)
    with pytest.raises(ConfigError, match="runs from its lowest grade up"):
        GradeScale(4, 1, 1)


def test_cranfield_grades_one_to_four_and_counts_every_judged_grade(cranfield_path):
    from explorer.loading import load_beir

    assert load_beir(cranfield_path).grade_scale == GradeScale(1, 4, 1, from_labels=True)


def test_the_judging_scale_offers_the_data_sets_grades_with_a_not_relevant_zero():
    graded = judging_scale("graded", one_to_four().grade_scale)
    assert graded.grades == (0, 1, 2, 3, 4)
    assert graded.words == {0: "not relevant", 1: "related", 2: "relevant", 3: "relevant", 4: "the answer"}
    assert graded.name.startswith("0-4 (0 not relevant, 1 related")
    # the sample data's 0-3 keeps its words; binary is 0-1 whatever the labels
    assert judging_scale("graded", GradeScale(0, 3, 1, True)).words == {
        0: "not relevant", 1: "related", 2: "relevant", 3: "the answer"}
    assert judging_scale("binary", GradeScale(1, 4, 1, True)).grades == (0, 1)


def test_a_grade_4_is_saved_and_imported_on_a_one_to_four_data_set(tmp_path):
    store, data = JudgementStore(tmp_path / "judgements.sqlite"), one_to_four()
    scale = scale_of(store, "tiny", data)
    with pytest.raises(ConfigError, match="outside this data set's scale, 0-3"):
        store.put("tiny", Judgement("q1", "d4", "ann", 4))  # the store's own 0-3, without the data set's scale
    store.put("tiny", Judgement("q1", "d4", "ann", 4), scale.grades)
    with pytest.raises(ConfigError, match="outside this data set's scale, 0-4"):
        store.put("tiny", Judgement("q1", "d4", "ann", 5), scale.grades)
    report = import_qrels("q2 0 d5 4\nq2 0 d4 5\n", store, "tiny", "bob", set(data.queries),
                          {d.doc_id for d in data.documents}, scale.grades)
    assert report.imported == 1 and report.problems == ("line 2: the grade 5 is outside this data set's scale, 0-4",)
    assert {(j.doc_id, j.grade) for j in store.judgements("tiny")} == {("d4", 4), ("d5", 4)}
    store.set_scale("tiny", "graded")
    with pytest.raises(ConfigError, match="grades up to 4"):
        store.set_scale("tiny", "binary")


def test_a_pool_to_fill_the_holes_leaves_out_what_the_labels_or_other_raters_grade():
    data = one_to_four()
    rankings = [["d0", "d1", "d4"], ["d4", "d5", "d0"]]
    judged = [Judgement("q1", "d5", "bob", 2), Judgement("q1", "d4", "ann", 3)]
    # d0 and d1 are in the qrels, d5 graded by bob; ann's own grade of d4 keeps d4 in her pool (shown as done)
    labelled = labelled_elsewhere(data.labels_for("q1"), judged, "ann")
    assert labelled == {"d0", "d1", "d5"}
    assert judging_pool("q1", "ann", rankings, 3, leave_out=labelled) == ["d4"]
    everything = judging_pool("q1", "ann", rankings, 3)
    assert sorted(everything) == ["d0", "d1", "d4", "d5"]
    # leaving documents out keeps the blind order of the rest, so a rater's place in the pool holds
    assert judging_pool("q1", "ann", rankings, 3, leave_out={"d0"}) == [d for d in everything if d != "d0"]
    # what the rater graded stays in their pool, shown as done, though another rater graded it too
    both = [*judged, Judgement("q1", "d5", "ann", 1)]
    assert left_out_of_pool(data.labels_for("q1"), both, "ann") == {"d0", "d1"}
    assert left_out_of_pool({}, both, "cat") == {"d4", "d5"}


def test_judging_the_holes_of_cranfield_query_109_leaves_out_its_graded_document_860(cranfield_path):
    from explorer.loading import load_beir

    labels = load_beir(cranfield_path).labels_for("109")
    assert labels["860"] == 4  # a complete answer, already graded
    ranking = ["860", "861", "1", "2"]  # as a stage might rank them: 860 and 861 graded, 1 and 2 not
    pool = judging_pool("109", "ann", [ranking], 10, leave_out=left_out_of_pool(labels, [], "ann"))
    assert sorted(pool) == ["1", "2"]


def one_to_four_folder(parent: Path) -> Path:
    """``one_to_four`` as a BEIR folder, for the command line."""
    import json

    folder = parent / "tiny"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": f"text {i}"}) + "\n"
                                                 for i in range(6)))
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "one"}\n{"_id": "q2", "text": "two"}\n')
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t4\nq1\td1\t1\nq2\td2\t2\n"
                                               "q2\td3\t3\n")
    return folder


def test_the_command_line_imports_a_grade_4_and_weighs_agreement_on_the_data_sets_own_grades(tmp_path, monkeypatch,
                                                                                               capsys):
    from explorer.cli import main

    # a judgements file of its own
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache_sharing_models(tmp_path / "workspace")))
    folder = one_to_four_folder(tmp_path)
    (tmp_path / "ann.qrels").write_text("q1 0 d4 4\nq1 0 d1 1\nq2 0 d5 0\nq2 0 d4 2\n")
    (tmp_path / "bob.qrels").write_text("q1 0 d4 3\nq1 0 d1 1\nq2 0 d5 0\nq2 0 d4 4\nq2 0 d3 5\n")
    assert main(["judgements", "import", "--data", str(folder), "--file", str(tmp_path / "ann.qrels"),
                 "--rater", "ann"]) == 0
    assert main(["judgements", "import", "--data", str(folder), "--file", str(tmp_path / "bob.qrels"),
                 "--rater", "bob"]) == 1
    said = capsys.readouterr().err
    assert "Imported 4 judgements; no line refused" in said
    assert "Imported 4 judgements; 1 lines refused" in said
    assert "the grade 5 is outside this data set's scale, 0-4" in said
    assert main(["judgements", "agreement", "--data", str(folder)]) == 0
    printed = capsys.readouterr().out
    # by hand, linear weights |a-b| on 0-4: observed (1+0+0+2)/4 = 0.75; expected from the raters' grades
    # {4,1,0,2} x {3,1,0,4}: 28/16 = 1.75; kappa 1 - 0.75/1.75 = 4/7 (on 0-3 the two 4s fell out and kappa read 1)
    assert "4 pairs judged by two raters or more (ann, bob)" in printed
    assert "Cohen's kappa (linear weights) 0.571" in printed and "Krippendorff's alpha (ordinal) 0.816" in printed


def test_the_command_line_imports_cranfields_grade_4(cranfield_path, tmp_path, monkeypatch, capsys):
    from explorer.cli import main

    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache_sharing_models(tmp_path / "workspace")))
    (tmp_path / "ann.qrels").write_text("109 0 860 4\n109 0 1 0\n")
    assert main(["judgements", "import", "--data", str(cranfield_path), "--file", str(tmp_path / "ann.qrels"),
                 "--rater", "ann"]) == 0
    assert "Imported 2 judgements; no line refused" in capsys.readouterr().err


@pytest.mark.slow
def test_the_search_pages_label_column_says_the_data_sets_own_scale(tmp_path):
    import json

    from streamlit.testing.v1 import AppTest

    folder = one_to_four_folder(tmp_path)
    app = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages" / "0_Search.py"), default_timeout=300)
    for key, value in {"dataset_choice": "A BEIR folder on this machine…", "dataset_path": str(folder), "depth": 10,
                       "first_stage": "bm25", "rr_choice": "none (first stage only)", "query": "one"}.items():
        app.session_state[key] = value
    app.run()
    assert not app.exception and not app.error, (app.exception, app.error)
    columns = json.loads(app.dataframe[0].proto.columns)
    assert columns["label"]["help"] == "Graded relevance, grades 1-4 (4 the best), relevant from 1; blank if unjudged"

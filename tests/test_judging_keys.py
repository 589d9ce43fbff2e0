"""The Judge page's grades: a key names the document on the screen when it went down and a click the document whose
buttons took it; a late one is refused and said once; and a data set without labels keeps its keys as it is graded."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from explorer.judging.store import JudgementStore
from ui.judging import JudgingDesk, JudgingTarget, doc_token, grade, grade_key, step
from ui.judging_keys import take_keys

ROOT = Path(__file__).resolve().parent.parent


def judging(tmp_path) -> tuple[JudgingDesk, JudgementStore, JudgingTarget]:
    target = JudgingTarget("disks", "q1", "which disk", "ann", ("d0", "d1", "d2", "d3"), typed=False)
    desk = JudgingDesk()
    desk.positions[target.key] = 0
    return desk, JudgementStore(tmp_path / "judgements.sqlite"), target


def grades(store: JudgementStore) -> dict[str, int]:
    return {j.doc_id: j.grade for j in store.judgements("disks", "q1", "ann")}


def test_a_key_for_the_document_shown_is_saved_and_a_late_one_is_refused_and_said_once(tmp_path):
    desk, store, target = judging(tmp_path)
    grade(desk, store, target, "d0", 2)
    assert grades(store) == {"d0": 2} and desk.positions[target.key] == 1
    assert desk.take_messages() == ([], []) and desk.refused == 0
    # d0's buttons were still on the screen: a second key for it neither overwrites its grade nor moves the rater
    grade(desk, store, target, "d0", 3)
    assert grades(store) == {"d0": 2} and desk.positions[target.key] == 1
    notes, errors = desk.take_messages()
    assert len(notes) == 1 and "The key 3 came for a document the page had already moved on from" in notes[0]
    assert not errors and desk.refused == 1
    assert desk.take_messages() == ([], [])  # said once


def test_one_key_on_the_buttons_of_several_documents_counts_once(tmp_path):
    desk, store, target = judging(tmp_path)
    grade(desk, store, target, "d0", 0)
    desk.take_messages()
    # one key 1 took the buttons of d0 (left) and of d1 (shown): d1 is graded, and nothing is said of d0's
    grade(desk, store, target, "d0", 1)
    grade(desk, store, target, "d1", 1)
    assert desk.take_messages() == ([], []) and desk.refused == 0
    assert grades(store) == {"d0": 0, "d1": 1} and desk.positions[target.key] == 2
    # one key 3 on the buttons of d0 and d1, both left: one late key
    grade(desk, store, target, "d1", 3)
    grade(desk, store, target, "d0", 3)
    notes, _ = desk.take_messages()
    assert len(notes) == 1 and desk.refused == 1 and grades(store) == {"d0": 0, "d1": 1}


def test_each_key_is_taken_once_for_the_document_shown_when_it_went_down(tmp_path):
    desk, store, target = judging(tmp_path)
    d0, d1, d2 = (doc_token(target, doc) for doc in ("d0", "d1", "d2"))
    take_keys(desk, store, target, [[1, "2", d0]])
    assert grades(store) == {"d0": 2} and desk.positions[target.key] == 1
    # the listener sends again what the page has not acknowledged: a press already taken is not taken twice
    take_keys(desk, store, target, [[1, "2", d0], [2, "1", d1]])
    assert grades(store) == {"d0": 2, "d1": 1} and desk.positions[target.key] == 2
    assert desk.take_messages() == ([], []) and desk.last_key == 2
    # two keys 3 pressed while d1 was still on the screen (the rater is at d2): two late keys, neither saved
    take_keys(desk, store, target, [[3, "3", d1], [4, "3", d1]])
    notes, errors = desk.take_messages()
    assert len(notes) == 2 and not errors and desk.refused == 2
    assert grades(store) == {"d0": 2, "d1": 1} and desk.positions[target.key] == 2
    # S and B move from where the rater is, and only for the document shown
    take_keys(desk, store, target, [[5, "S", d2], [6, "B", d2]])
    assert desk.positions[target.key] == 3 and desk.take_messages()[0]
    take_keys(desk, store, target, [[7, "B", doc_token(target, "d3")], [8, "0", d2]])
    assert grades(store) == {"d0": 2, "d1": 1, "d2": 0} and desk.positions[target.key] == 3
    # what this listener never sends is passed over, and the next press is still taken
    take_keys(desk, store, target, [["x"], None, [9, "1"], [9, "Q", doc_token(target, "d3")],
                                    [10, "1", doc_token(target, "d3")]])
    assert grades(store)["d3"] == 1 and desk.positions[target.key] == 4 and desk.last_key == 10
    # past the last document no key grades: each is said
    take_keys(desk, store, target, [[11, "2", doc_token(target, "d3")]])
    assert len(desk.take_messages()[0]) == 1 and grades(store)["d3"] == 1


def test_a_grade_off_the_scale_is_an_error_and_the_rater_stays(tmp_path):
    desk, store, target = judging(tmp_path)
    grade(desk, store, target, "d0", 7)
    notes, errors = desk.take_messages()
    assert not notes and len(errors) == 1 and "outside this data set's scale, 0-3" in errors[0]
    assert grades(store) == {} and desk.positions[target.key] == 0


def test_each_documents_buttons_have_their_own_keys_and_skip_and_back_move_from_where_the_rater_is(tmp_path):
    desk, _, target = judging(tmp_path)
    keys = {grade_key(target, doc, value) for doc in target.pool for value in target.grades}
    assert len(keys) == 16 and all(key.startswith("judge_grade_") for key in keys)
    assert grade_key(target, "d0", 2).startswith("judge_grade_2_")
    step(desk, target, 1)
    step(desk, target, 1)  # two quick presses of S: two documents on
    assert desk.positions[target.key] == 2
    step(desk, target, -1)
    step(desk, target, -1)
    step(desk, target, -1)  # never before the first
    assert desk.positions[target.key] == 0
    desk.positions[target.key] = 4
    step(desk, target, 1)
    assert desk.positions[target.key] == 4  # nor past the end


@pytest.mark.slow
def test_a_data_set_without_labels_keeps_its_grades_keys_as_it_is_graded(tmp_path):
    """Its 0-3 scale comes from its own (absent) labels; the grades given on the page, merged into the labels the
    other pages use, must not narrow the keys to what was given so far."""
    from streamlit.testing.v1 import AppTest

    folder = tmp_path / f"unlabelled-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": f"disk {i} full"})
                                                 + "\n" for i in range(6)))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "which disk is full"}) + "\n")
    app = AppTest.from_file(str(ROOT / "pages" / "9_Judge.py"), default_timeout=300)
    for key, value in {"dataset_choice": "A BEIR folder on this machine…", "dataset_path": str(folder), "depth": 10,
                       "first_stage": "bm25", "rr_choice": "none (first stage only)",
                       "rater": f"ann-{uuid.uuid4().hex[:6]}", "judge_query": "which disk is full"}.items():
        app.session_state[key] = value
    app.run()

    def shown() -> set[str]:
        return {b.key.split("_")[2] for b in app.button if b.key and b.key.startswith("judge_grade_")}

    assert not app.exception, app.exception
    assert shown() == {"0", "1", "2", "3"}
    for value in ("1", "0"):
        next(b for b in app.button if b.key and b.key.startswith(f"judge_grade_{value}_")).click().run()
        assert not app.exception and not app.error, (app.exception, app.error)
    assert shown() == {"0", "1", "2", "3"}  # before the fix: 0 and 1 only, the grades given so far

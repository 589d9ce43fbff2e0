"""Real-browser test of judging, on a server of its own: two sessions judge a typed query at once with the
keyboard, the grades survive a reload, Evaluate counts the query with its coverage, and the server killed with
SIGKILL mid-loop loses at most the grade in flight."""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from explorer.judging.datasets import JUDGED_SPLIT
from explorer.judging.store import typed_query_id
from explorer.settings import Settings
from tests.browser_support import no_error_on, serving, settle, wait_for_text

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def enter(page, rater: str, query: str, pool: int | None = None) -> None:
    """Types the rater's name in the sidebar and the query on the Judge page (and the pool's top n, when given),
    waiting for each rerun."""
    page.get_by_label("Rater (your name, for judging)", exact=True).wait_for(timeout=300_000)
    settle(page)
    box = page.get_by_label("Rater (your name, for judging)", exact=True)
    box.fill(rater)
    box.press("Enter")
    wait_for_text(page, "Query to judge")
    settle(page)
    box = page.get_by_label("Query to judge")
    box.fill(query)
    box.press("Enter")
    wait_for_text(page, "pooled documents judged by")
    settle(page)
    if pool is not None:
        box = page.get_by_label("Pool: top n of each stage")
        box.fill(str(pool))
        box.press("Enter")
        settle(page)


# true once no button of the previous run is left on the page (Streamlit marks them stale until replaced)
NO_STALE_KEYS = """() => !document.querySelector('[data-stale="true"] [data-testid="stButton"]')"""


def progress_at(page, done: int) -> None:
    """Waits until the Judge page says ``done`` documents are judged and shows the next one with its own grade buttons
    (so the next key press reaches the buttons of that document)."""
    page.get_by_text(re.compile(rf"^{done} of \d+ pooled documents judged by")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(rf"^(Document {done + 1} of|All \d+ pooled documents have a grade)")).first.wait_for(
        timeout=120_000)
    if page.get_by_text(re.compile(rf"^Document {done + 1} of")).count():
        page.get_by_role("button", name=re.compile(r"^0 · ")).wait_for(timeout=120_000)
        # and the keys are that document's, not the last one's still on the screen (a key there is refused as late)
        page.wait_for_function(NO_STALE_KEYS, timeout=120_000)


def rows_of(path, rater: str) -> int:
    """The rows the judgements file holds for ``rater``."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM judgements WHERE rater = ?", (rater,)).fetchone()[0]


def press(page, grade: int) -> None:
    page.get_by_role("heading", name="Judge").click()  # the key goes to the page, not to a text box
    page.keyboard.press(str(grade))


def test_judging_in_the_browser_two_sessions_at_once_a_reload_evaluate_and_a_killed_server(browser, tmp_path):
    """Two sessions judge a typed query (no labels) at once with the keyboard, 50 grades each; a reload finds the
    grades; Evaluate counts the query with its judged@10; a third session's server is killed mid-loop."""
    # a server of its own (it is killed at the end) on the session's workspace, whose embeddings and scores it
    # reuses; its raters' names are this test's own
    judgements = Settings.from_env().judgements_path
    ann, bob, cat = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("ann", "bob", "cat"))
    query, count = "what to do when the staging database runs out of disk", 50
    with serving(tmp_path / "server.log") as served:
        pages = []
        for rater in (ann, bob):
            page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            page.goto(served.url + "judge")
            enter(page, rater, query, pool=count)
            progress_at(page, 0)
            pages.append(page)
        # each grade is sent by both sessions before either is waited for: the server saves them at the same time
        for done in range(1, count + 1):
            for page in pages:
                press(page, done % 4)
            for page in pages:
                progress_at(page, done)
        pages[0].screenshot(path=str(tmp_path / "judged.png"), full_page=True)
        for page in pages:
            no_error_on(page)
        assert rows_of(judgements, ann) == count and rows_of(judgements, bob) == count

        page = pages[0]
        page.reload()  # a new session: the grades come back from the judgements file
        enter(page, ann, query, pool=count)
        progress_at(page, count)
        page.get_by_role("link", name="Evaluate").click()
        wait_for_text(page, "Labelled split")
        settle(page)
        page.get_by_label("Labelled split").click()
        page.get_by_role("option", name=JUDGED_SPLIT).click()
        settle(page)
        slider = page.locator('[data-testid="stSlider"]').filter(has_text="Candidate depth k")
        slider.get_by_role("slider").press("Home")
        settle(page)
        page.get_by_role("button", name="Run the evaluation").click()
        wait_for_text(page, "judged@10")
        settle(page)
        page.screenshot(path=str(tmp_path / "evaluate.png"), full_page=True)
        no_error_on(page)
        per_query = page.locator('[data-testid="stDataFrame"]').last
        per_query.scroll_into_view_if_needed()  # the grid draws its cells once it is in view
        page.wait_for_timeout(1000)
        cells = " ".join(per_query.locator("[role=gridcell]").all_inner_texts())
        assert typed_query_id(query) in cells

        # a third rater judges another query (the pool of this one leaves out what ann and bob graded: nothing is
        # left); the server is killed (SIGKILL) right after a key press, with that grade in flight
        killed = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
        killed.goto(served.url + "judge")
        enter(killed, cat, "who restores the staging database from last night's backup")
        acknowledged = 6
        for done in range(1, acknowledged + 1):
            press(killed, done % 4)
            progress_at(killed, done)
        press(killed, 3)
        served.process.kill()
        served.process.wait(timeout=30)
    with sqlite3.connect(judgements) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert rows_of(judgements, cat) in (acknowledged, acknowledged + 1)
    assert rows_of(judgements, ann) + rows_of(judgements, bob) == 2 * count


# In each page: the document on the screen when a key goes down (the text of the Judge page's document box, kept
# by a MutationObserver, so a key is matched to what the rater saw at that moment).
SEEN_AT_EACH_KEY = """(() => {
  window.__keys = []; window.__shown = null;
  const look = () => {
    const texts = document.querySelectorAll('.st-key-judge_document [data-testid="stText"]');
    if (texts.length) window.__shown = texts[texts.length - 1].innerText;
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, characterData: true});
  window.addEventListener('keydown', e => window.__keys.push([e.key, window.__shown]), true);
})()"""


def small_folder(parent: Path) -> tuple[str, dict[str, str]]:
    """A BEIR folder of 16 short documents that all answer the typed query a little (so BM25 pools ten of them),
    embedded in a moment; labels 0-3 on another query. Returns the folder and each document's id by its text."""
    import json

    folder = parent / f"disks-{uuid.uuid4().hex[:6]}"
    (folder / "qrels").mkdir(parents=True)
    texts = {f"d{i}": f"note {i}: the disk of host {i} filled up at {i} am and was {word}" for i, word in
             enumerate(["cleaned", "grown", "moved", "archived", "replaced", "checked", "rotated", "mirrored",
                        "trimmed", "scrubbed", "resized", "copied", "swapped", "rebuilt", "wiped", "tested"])}
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n"
                                                 for doc_id, text in texts.items()))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "which host was cleaned"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t3\nq1\td1\t0\n")
    return str(folder), {" ".join(text.split()): doc_id for doc_id, text in texts.items()}


def judged_and_late(page) -> tuple[int, int]:
    """The progress line's counts: documents judged by this rater, and late keys not saved."""
    line = page.get_by_text(re.compile(r"pooled documents judged by")).first.inner_text()
    late = re.search(r"(\d+) late keys? not saved", line)
    return int(re.search(r"(\d+) of \d+ pooled documents judged by", line).group(1)), int(late.group(1)) if late else 0


def answered(page, presses: int, timeout: float = 180) -> tuple[int, int]:
    """Waits until the page has answered ``presses`` keys (each saved, or counted late); their counts. The wait is
    long: the other test worker may be quantising a model meanwhile, and the page's reruns then take seconds each."""
    deadline = time.time() + timeout
    while sum(counts := judged_and_late(page)) < presses:
        if time.time() > deadline:
            pytest.fail(f"{presses} keys pressed, {sum(counts)} answered ({counts[0]} saved, {counts[1]} late): the "
                        "others were lost without a word")
        page.wait_for_timeout(100)
    return counts


def test_keys_pressed_faster_than_the_page_reruns_are_each_saved_or_refused_with_a_note(browser, tmp_path):
    """Two raters press a grade key every quarter of a second, faster than the page reruns, the first one right after
    Enter in the query box: every key is either saved for the document on the screen when it went down, or counted
    as a late key with a note (it came for a document the page had left). None is lost without a word."""
    import urllib.parse

    folder, doc_of = small_folder(tmp_path)
    judgements, presses = Settings.from_env().judgements_path, 8
    query = f"what happened to the disk of the host {uuid.uuid4().hex[:6]}"
    raters = [f"{name}-{uuid.uuid4().hex[:6]}" for name in ("dan", "eva")]
    with serving(tmp_path / "server.log") as served:
        pages = []
        for rater in raters:
            page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            page.add_init_script(SEEN_AT_EACH_KEY)
            page.goto(served.url + "judge?" + urllib.parse.urlencode(
                {"data": "folder", "folder": folder, "first_stage": "bm25", "reranker": "none (first stage only)",
                 "rater": rater}))
            box = page.get_by_label("Query to judge")
            box.wait_for(timeout=300_000)
            settle(page)
            box.fill(query)
            box.press("Enter")  # the cursor stays in the box: the page must take it out for the first key to grade
            page.get_by_role("button", name=re.compile(r"^0 · ")).wait_for(timeout=120_000)
            pages.append(page)
        # a key every quarter of a second on each page, the four grades in turn, whatever the page is doing
        for i in range(presses):
            for page in pages:
                page.keyboard.press(str(i % 4))
            page.wait_for_timeout(250)
        for rater, page in zip(raters, pages):
            counts = answered(page, presses)
            page.screenshot(path=str(tmp_path / f"{rater}.png"), full_page=True)
            no_error_on(page)
            judged, late = counts
            keys = [(key, text) for key, text in page.evaluate("window.__keys") if key.isdigit()]
            assert len(keys) == presses
            assert judged + late == presses, (judged, late, keys)  # every key: saved, or said to be late
            with sqlite3.connect(judgements) as db:
                saved = dict(db.execute("SELECT doc_id, grade FROM judgements WHERE rater = ?", (rater,)).fetchall())
            assert len(saved) == judged
            # each saved grade is a key pressed while that document was on the screen
            shown = {}
            for key, text in keys:
                shown.setdefault(doc_of.get(" ".join((text or "").split())), set()).add(int(key))
            assert all(grade in shown.get(doc_id, set()) for doc_id, grade in saved.items()), (saved, keys)
            # the first key, pressed with the cursor still in the query box, graded the first document
            first_key, first_text = keys[0]
            assert saved.get(doc_of.get(" ".join((first_text or "").split()))) == int(first_key), (saved, keys)

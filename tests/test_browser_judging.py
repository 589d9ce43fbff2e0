"""Real-browser test of judging, on a server of its own: two sessions judge a typed query at once with the
keyboard, the grades survive a reload, Evaluate counts the query with its coverage, and the server killed with
SIGKILL mid-loop loses at most the grade in flight."""

from __future__ import annotations

import re
import sqlite3
import uuid

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


def progress_at(page, done: int) -> None:
    """Waits until the Judge page says ``done`` documents are judged and shows the next one with its grade buttons
    (so the next key press reaches the buttons of that document)."""
    page.get_by_text(re.compile(rf"^{done} of \d+ pooled documents judged by")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(rf"^(Document {done + 1} of|All \d+ pooled documents have a grade)")).first.wait_for(
        timeout=120_000)
    if page.get_by_text(re.compile(rf"^Document {done + 1} of")).count():
        page.get_by_role("button", name=re.compile(r"^0 · ")).wait_for(timeout=120_000)


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

"""Real-browser test of judging: a typed query judged with the keyboard, kept across a reload, counted by
Evaluate with its coverage."""

from __future__ import annotations

import uuid

import pytest

from explorer.judging.datasets import JUDGED_SPLIT
from explorer.judging.store import typed_query_id
from tests.browser_support import no_error_on, settle, wait_for_text

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def enter(page, rater: str, query: str) -> None:
    """Types the rater's name in the sidebar and the query on the Judge page, waiting for each rerun."""
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


def test_a_typed_query_judged_with_the_keyboard_survives_a_reload_and_counts_in_evaluate(app_url, browser,
                                                                                         tmp_path):
    rater, query = f"rater{uuid.uuid4().hex[:6]}", "what to do when the staging database runs out of disk"
    page = browser.new_context(viewport={"width": 1500, "height": 1800}).new_page()
    page.goto(app_url + "judge")
    enter(page, rater, query)
    wait_for_text(page, "Document 1 of")
    for number, key in enumerate("30210", start=1):
        page.get_by_role("heading", name="Judge").click()  # focus on the page, not in a text box
        page.keyboard.press(key)
        wait_for_text(page, f"Document {number + 1} of")
        settle(page)
    page.screenshot(path=str(tmp_path / "judged.png"), full_page=True)
    no_error_on(page)
    assert page.get_by_text("5 of", exact=False).count() >= 1

    page.reload()  # a new session: the grades come back from the judgements file
    enter(page, rater, query)
    again = page
    wait_for_text(again, "5 of")
    wait_for_text(again, "Document 6 of")

    again.get_by_role("link", name="Evaluate").click()
    wait_for_text(again, "Labelled split")
    settle(again)
    again.get_by_label("Labelled split").click()
    again.get_by_role("option", name=JUDGED_SPLIT).click()
    settle(again)
    slider = again.locator('[data-testid="stSlider"]').filter(has_text="Candidate depth k")
    slider.get_by_role("slider").press("Home")
    settle(again)
    again.get_by_role("button", name="Run the evaluation").click()
    wait_for_text(again, "judged@10")
    settle(again)
    again.screenshot(path=str(tmp_path / "evaluate.png"), full_page=True)
    no_error_on(again)
    cells = " ".join(again.locator('[data-testid="stDataFrame"]').last.locator("[role=gridcell]").all_inner_texts())
    assert typed_query_id(query) in cells

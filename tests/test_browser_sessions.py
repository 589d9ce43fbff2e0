"""Real-browser tests of what happens between sessions and across pages: two people loading at once, private
uploads, a damaged default reranker, answers from the cache, and a query that belongs to its data set."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from explorer.models.trained import DEFAULT_RERANKER_DIR
from tests.browser_support import grid_texts, no_error_on, served_app, settle, wait_for_text

pytestmark = [pytest.mark.slow, pytest.mark.browser]
VIEWPORT = {"width": 1500, "height": 1800}


def write_table(path: Path, prefix: str, rows: int) -> Path:
    """A CSV of ``rows`` documents whose ids all start with ``prefix``."""
    lines = ["id,text"] + [f"{prefix}-{i},{prefix} note {i} about rotating keys and the build cache" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def open_load_page(browser, app_url: str):
    """A new browser session (its own context: its own cookies and Streamlit session) on the Load data page."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(app_url + "load")
    wait_for_text(page, "Table file: JSONL, CSV, TSV or Parquet")
    settle(page)
    return page


def choose_upload(page, table: Path, name: str) -> None:
    """Uploads ``table`` as the corpus and names the data set, waiting for each rerun."""
    page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(str(table))
    wait_for_text(page, "Map the columns")
    settle(page)
    box = page.get_by_label("Name", exact=True)
    box.fill(name)
    box.press("Enter")
    settle(page)


def dataset_choices(page) -> list[str]:
    """The data sets the sidebar offers this session."""
    page.get_by_label("Data set", exact=True).click()  # the selectbox's list opens
    options = page.locator('[role="option"]').all_inner_texts()
    page.keyboard.press("Escape")
    return options


def saved_ids(name: str) -> set[str]:
    """The document ids of the data set saved under ``name`` in the test server's cache folder."""
    root = Path(os.environ["EXPLORER_CACHE_DIR"]) / "datasets"
    folders = [folder for folder in root.iterdir() if folder.name.startswith(name + "-")]
    assert len(folders) == 1, (name, sorted(p.name for p in root.iterdir()))
    lines = (folders[0] / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["_id"] for line in lines if line.strip()}


def test_two_sessions_loading_at_once_each_keep_and_see_only_their_own(app_url, browser, tmp_path):
    rows = 3000
    names = {"alpha": f"alpha{uuid.uuid4().hex[:6]}", "beta": f"beta{uuid.uuid4().hex[:6]}"}
    pages = {}
    for prefix, name in names.items():
        pages[prefix] = open_load_page(browser, app_url)
        choose_upload(pages[prefix], write_table(tmp_path / f"{prefix}.csv", prefix, rows), name)
    for page in pages.values():  # both Loads pressed together, as two people would
        page.get_by_role("button", name="Load", exact=True).click(no_wait_after=True)
    for prefix, page in pages.items():
        wait_for_text(page, "Last load")
        settle(page)
        page.screenshot(path=str(tmp_path / f"{prefix}.png"), full_page=True)
        no_error_on(page)
    for prefix, name in names.items():
        ids = saved_ids(name)
        assert len(ids) == rows and all(doc_id.startswith(prefix + "-") for doc_id in ids), (name, len(ids))
    # each session lists its own upload and not the other's; a fresh session lists neither
    for prefix, page in pages.items():
        offered = " ".join(dataset_choices(page))
        other = "beta" if prefix == "alpha" else "alpha"
        assert names[prefix] in offered and names[other] not in offered, offered
    stranger = open_load_page(browser, app_url)
    offered = " ".join(dataset_choices(stranger))
    assert not any(name in offered for name in names.values()), offered


def ask(page, query: str) -> str:
    """Types ``query`` on the Search page and returns the caption of its answer once it replaces the last one."""
    caption = page.get_by_text("candidates (dense)", exact=False).first
    before = caption.inner_text() if caption.count() else ""
    box = page.get_by_label("Query")
    box.fill(query)
    box.press("Enter")
    deadline = time.time() + 300
    while not caption.count() or caption.inner_text() == before:
        assert time.time() < deadline, f"no answer to {query!r}"
        page.wait_for_timeout(250)
    settle(page)
    return caption.inner_text()


def test_a_cached_answer_is_labelled_and_a_new_data_set_starts_with_its_own_query(app_url, browser, tmp_path):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(app_url)
    page.get_by_label("Query").wait_for(timeout=300_000)
    settle(page)
    first = ask(page, "how do I rotate the database password")
    assert "cached answer" not in first, first
    ask(page, "the vpn drops every few minutes")
    again = ask(page, "how do I rotate the database password")
    assert "cached answer; when first computed" in again, again

    # a data set of this session's own, with no queries: the Search page must not run the old query on it
    page.get_by_role("link", name="Load data").click()
    wait_for_text(page, "Table file: JSONL, CSV, TSV or Parquet")
    settle(page)
    choose_upload(page, write_table(tmp_path / "small.csv", "small", 40), f"small{uuid.uuid4().hex[:6]}")
    page.get_by_role("button", name="Load", exact=True).click()
    wait_for_text(page, "Last load")
    settle(page)
    page.get_by_role("link", name="Search", exact=True).click()
    wait_for_text(page, "Type a query above to see both stages.")
    settle(page)
    page.screenshot(path=str(tmp_path / "new_data_set.png"), full_page=True)
    assert page.get_by_label("Query").input_value() == ""
    no_error_on(page)


def test_the_search_and_models_pages_keep_working_with_a_damaged_default_reranker(browser, trained_folder,
                                                                                   tmp_path):
    models = tmp_path / "models"
    weights = shutil.copytree(trained_folder, models / DEFAULT_RERANKER_DIR) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with served_app(tmp_path / "server.log", {"EXPLORER_MODELS_DIR": str(models)}) as url:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(url)
        page.wait_for_selector(".js-plotly-plot", timeout=300_000)
        settle(page)
        page.screenshot(path=str(tmp_path / "search.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("cannot be read", exact=False).count() >= 1
        assert page.locator('[data-testid="stDataFrame"]').count() == 2  # both stages: the stand-in reranks
        assert grid_texts(page, 1)[0] == "1"
        # the sidebar's picker names the model that runs, not the one asked for
        assert page.get_by_text("Runs here as the untrained stand-in", exact=False).count() == 1
        page.get_by_role("link", name="Models and device").click()
        page.get_by_role("heading", name="Models and device").wait_for(timeout=300_000)
        settle(page)
        page.screenshot(path=str(tmp_path / "models.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("cannot be read", exact=False).count() >= 1


def test_a_loaded_data_set_and_the_rater_survive_the_train_page_and_a_reload(app_url, browser, tmp_path):
    """Leaving "Train a reranker" (whose progress fragment runs once more after the switch) kept the data set; a
    reload (a new session) opens the private data set from the page's address, with its key, and keeps the rater and
    the first stage; the address without its key opens nothing private."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(app_url + "load")
    wait_for_text(page, "Table file: JSONL, CSV, TSV or Parquet")
    settle(page)
    name = f"kept{uuid.uuid4().hex[:6]}"
    choose_upload(page, write_table(tmp_path / "kept.csv", "kept", 30), name)
    page.get_by_role("button", name="Load", exact=True).click()
    wait_for_text(page, "Last load")
    settle(page)
    rater = page.get_by_label("Rater (your name, for judging)", exact=True)
    rater.fill("Ana Lima")
    rater.press("Enter")
    settle(page)
    page.get_by_role("link", name="Train a reranker").click()
    page.get_by_role("heading", name="Train a reranker").wait_for(timeout=120_000)
    settle(page)
    page.wait_for_timeout(4500)  # the page's progress fragment runs every 2 s
    page.get_by_role("link", name="Data set", exact=True).click()
    settle(page)
    page.wait_for_timeout(2500)
    settle(page)
    folder_shown = page.get_by_text(f"/{name}-", exact=False)  # the Data set page's "Folder: …/<name>-<hash>"
    assert folder_shown.count() >= 1, page.inner_text("body")[:2000]
    address = page.url
    assert f"data={name}" in address and "key=" in address and "rater=Ana" in address, address

    page.reload()
    settle(page)
    page.screenshot(path=str(tmp_path / "reloaded.png"), full_page=True)
    assert page.get_by_text(f"/{name}-", exact=False).count() >= 1, page.inner_text("body")[:2000]
    assert page.get_by_label("Rater (your name, for judging)", exact=True).input_value() == "Ana Lima"
    no_error_on(page)

    stranger = browser.new_context(viewport=VIEWPORT).new_page()
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(address)
    keyless = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "key"])
    stranger.goto(parts._replace(query=keyless).geturl())
    settle(stranger)
    assert stranger.get_by_text(f"/{name}-", exact=False).count() == 0
    assert stranger.get_by_text("loaded privately", exact=False).count() >= 1

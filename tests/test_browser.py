"""One real-browser test: the app served on a free local port, driven in Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
QUERY = "the vpn drops every few minutes on my laptop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"streamlit did not start:\n{log.read_text()}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is missing: run `bash scripts/setup.sh --browser` (it installs Debian's chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def grid_texts(page, index: int) -> list[str]:
    return page.locator('[data-testid="stDataFrame"]').nth(index).locator("[role=gridcell]").all_inner_texts()


def test_query_shows_both_columns_and_drawn_charts(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    page.goto(app_url)
    page.wait_for_selector(".js-plotly-plot", timeout=300_000)
    before = grid_texts(page, 0)

    box = page.get_by_label("Query")
    box.fill(QUERY)
    box.press("Enter")
    deadline = time.time() + 180
    while grid_texts(page, 0) == before or page.get_by_text("Running...").count():
        assert time.time() < deadline, "the results did not change after typing a query"
        time.sleep(0.5)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    frames = page.locator('[data-testid="stDataFrame"]')
    assert frames.count() == 2
    for index in range(2):
        cells = grid_texts(page, index)
        assert cells[0] == "1" and len(cells) >= 10 * 5, cells[:12]
    assert any("vpn" in text.lower() for text in grid_texts(page, 0))
    charts = page.locator(".js-plotly-plot")
    assert charts.count() == 3
    # rank shifts: one drawn line per document; scores and latency: drawn bars
    assert charts.nth(0).locator(".scatterlayer .trace path.js-line").count() >= 10
    assert charts.nth(1).locator(".barlayer .trace").count() >= 2
    assert charts.nth(2).locator(".barlayer .trace path").count() == 3
    assert page.get_by_text("CPU", exact=False).count() >= 1

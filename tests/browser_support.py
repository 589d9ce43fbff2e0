"""For the real-browser tests: the app served on a free local port, and what a test waits for in Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ServedApp:
    """A running ``streamlit run app.py``: its URL and its process (a test may kill it)."""

    url: str
    process: subprocess.Popen


@contextmanager
def serving(log: Path, env: dict[str, str] | None = None) -> Iterator[ServedApp]:
    """``streamlit run app.py`` on 127.0.0.1 with ``env`` added to this process's environment, stopped afterwards
    (unless it already stopped). Its output goes to ``log`` (shown if it does not start)."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                                  stderr=subprocess.STDOUT)
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
        yield ServedApp(f"http://127.0.0.1:{port}/", server)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


@contextmanager
def served_app(log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """The URL of ``serving(log, env)``."""
    with serving(log, env) as served:
        yield served.url


def grid_texts(page, index: int) -> list[str]:
    """The cell texts of the page's ``index``-th table."""
    return page.locator('[data-testid="stDataFrame"]').nth(index).locator("[role=gridcell]").all_inner_texts()


def no_error_on(page) -> None:
    """Neither a traceback nor an error box on the page."""
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def settle(page, timeout: float = 300) -> None:
    """Waits until the page's rerun has finished drawing (a box replaced after it was typed into would lose the
    text), and dismisses the "Page not found" a server's very first session may show at a page's URL."""
    deadline = time.time() + timeout
    page.wait_for_timeout(500)
    while page.get_by_text("Running...").count():
        assert time.time() < deadline, "the page kept running"
        page.wait_for_timeout(250)
    if page.get_by_text("Page not found").count():
        page.keyboard.press("Escape")
    page.wait_for_timeout(750)


def wait_for_text(page, text: str, timeout: float = 300) -> None:
    """Waits until ``text`` shows somewhere on the page."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout * 1000)


def drawn_grid_texts(page, index: int, timeout: float = 60) -> list[str]:
    """``grid_texts(page, index)`` once the table has drawn its cells (a table shown a moment ago may not have)."""
    deadline = time.time() + timeout
    while not (cells := grid_texts(page, index)) and time.time() < deadline:
        page.wait_for_timeout(250)
    return cells

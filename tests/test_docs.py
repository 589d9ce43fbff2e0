"""The README is a front page (what it is, the two commands, the pages) and the manual lives in docs/: every docs
page is linked from it, every link leads to a file, and docs/settings.md names every setting the code reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)")
SETTING = re.compile(r"[\"'](EXPLORER_[A-Z_]+)[\"']")
FRONT_PAGE_LINES = 120


def test_the_readme_is_a_front_page_with_exactly_two_commands_and_links_every_docs_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= FRONT_PAGE_LINES
    fenced = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    commands = [line.split("#")[0].strip() for block in fenced for line in block.splitlines() if line.strip()]
    assert commands == ["bash scripts/start.sh", "bash scripts/test.sh"]
    linked = {(ROOT / target).resolve() for target in LINK.findall(text) if not target.startswith("http")}
    missing = sorted(str(path.relative_to(ROOT)) for path in linked if not path.exists())
    assert not missing, f"the README links to files that do not exist: {missing}"
    unlinked = sorted(page.name for page in (ROOT / "docs").glob("*.md") if page.resolve() not in linked)
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


def test_every_docs_link_leads_to_a_file():
    for page in (ROOT / "docs").glob("*.md"):
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_settings_page_names_every_setting_the_code_reads():
    read = set()
    for folder in ("explorer", "ui", "pages"):
        for source in (ROOT / folder).rglob("*.py"):
            read.update(SETTING.findall(source.read_text(encoding="utf-8")))
    read.update(SETTING.findall((ROOT / "app.py").read_text(encoding="utf-8")))
    assert "EXPLORER_DATA_DIRS" in read and "EXPLORER_ENGINE" in read  # the pattern finds what the code reads
    documented = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert sorted(name for name in read if name not in documented) == []

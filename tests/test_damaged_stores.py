"""Damaged SQLite files the explorer keeps: the score store (a cache: moved aside and rebuilt) and the judgements
(not a cache: kept aside, never deleted, and every grade that still reads recovered), on the command line and on
the pages. "Damaged" as a full disk or an interrupted copy leaves a file: cut to half its size, -wal and -shm gone."""

from __future__ import annotations

import gc
import logging
import random
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.judging.datasets import dataset_key
from explorer.judging.store import Judgement, JudgementStore
from explorer.rerank.score_cache import persistent_score_cache
from explorer.settings import SAMPLE_DATA
from explorer.sqlite_files import readable_rows
from tests.cache_support import cache_sharing_models

ROOT = Path(__file__).resolve().parent.parent
RATERS = ("ann", "bob", "cy")


def fill_judgements(path: Path, count: int, dataset: str = "notes", docs: list[str] | None = None,
                    queries: list[str] | None = None) -> dict[tuple[str, str, str], tuple[int, str]]:
    """A judgements file of ``count`` grades given one at a time, as the Judge page saves them, with some typed
    queries; returns (query, document, rater) -> (grade, note) of every grade."""
    store = JudgementStore(path)
    chosen = random.Random(7)
    given = {}
    while len(given) < count:
        position = len(given)
        query = queries[position % len(queries)] if queries else f"q{position // 10}"
        doc = docs[chosen.randrange(len(docs))] if docs else f"doc-{chosen.randrange(10 ** 6)}"
        rater = chosen.choice(RATERS)
        if (query, doc, rater) in given:
            continue
        if position % 10 == 0:
            store.add_query(dataset, f"typed query {position} about the VPN and the printers")
        grade, note = chosen.randrange(2 if docs else 4), "n" * chosen.randrange(30)
        store.put(dataset, Judgement(query, doc, rater, grade, note))
        given[(query, doc, rater)] = (grade, note)
    store.close()
    return given


def cut_in_half(path: Path) -> bytes:
    """``path`` cut to half its size, its -wal and -shm removed; returns what is left of it."""
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    kept = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(kept)
    return kept


def asides(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(f"{path.name}.damaged-")
                  and not p.name.endswith(("-wal", "-shm")))


def test_sqlite_cannot_read_a_file_cut_in_half_as_it_is(tmp_path):
    """What the explorer met before: every statement on the file fails, so a store opened on it raised."""
    path = tmp_path / "judgements.sqlite"
    fill_judgements(path, 300)
    cut_in_half(path)
    with sqlite3.connect(path) as connection, pytest.raises(sqlite3.DatabaseError, match="malformed"):
        connection.execute("SELECT COUNT(*) FROM judgements").fetchone()


def test_a_judgements_file_cut_in_half_is_kept_aside_and_the_grades_that_read_are_recovered(tmp_path, caplog):
    path = tmp_path / "judgements.sqlite"
    given = fill_judgements(path, 1500)
    before = JudgementStore(path)
    version = before.version("notes")
    before.close()
    kept = cut_in_half(path)
    with caplog.at_level(logging.WARNING, logger="explorer.judging.store"):
        store = JudgementStore(path)
    recovery = store.recovery
    assert recovery is not None and recovery.reason == "database disk image is malformed"
    # the damaged file is kept as it was, under a new name beside the fresh one
    assert asides(path) == [recovery.aside] and recovery.aside.read_bytes() == kept
    recovered = store.judgements("notes")
    assert recovery.grades == len(recovered) == store.count()
    # about half the file is left; the grades on it come back (the pages' tree above them may be lost too)
    assert len(given) * 0.35 < len(recovered) < len(given)
    assert all(given[(j.query_id, j.doc_id, j.rater)] == (j.grade, j.note) for j in recovered)
    assert recovery.queries == len(store.queries("notes")) > 0
    assert f"{recovery.grades:,} grade(s)" in recovery.message and str(recovery.aside) in recovery.message
    assert [r.getMessage() for r in caplog.records] == [recovery.message]
    assert store.version("notes") > version  # the labels changed: a snapshot taken before is not the same labels
    store.put("notes", Judgement("q-new", "d-new", "ann", 2))
    store.close()
    again = JudgementStore(path)
    assert again.recovery is None and again.count() == len(recovered) + 1 and asides(path) == [recovery.aside]


def test_damage_inside_the_file_is_found_when_it_is_opened_and_the_rows_past_it_are_recovered(tmp_path):
    path = tmp_path / "judgements.sqlite"
    given = fill_judgements(path, 1500)
    damaged = bytearray(path.read_bytes())
    page = 4096
    noise = random.Random(3)
    for at in range(12 * page, 18 * page):  # a few pages in the middle overwritten
        damaged[at] = noise.randrange(256)
    path.write_bytes(bytes(damaged))
    store = JudgementStore(path)
    assert store.recovery is not None
    recovered = store.judgements("notes")
    assert len(given) * 0.5 < len(recovered) < len(given)
    assert all(given[(j.query_id, j.doc_id, j.rater)] == (j.grade, j.note) for j in recovered)
    last_saved = set(list(given)[-100:])  # in the order they were saved: these lie past the damage
    assert any((j.query_id, j.doc_id, j.rater) in last_saved for j in recovered)


def test_rows_are_read_past_a_lost_page(tmp_path):
    """``readable_rows`` looks further on after a lost page, rather than stopping at it as a scan (or iterdump) does."""
    path = tmp_path / "rows.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (n INTEGER, text TEXT)")
        connection.executemany("INSERT INTO t VALUES (?, ?)", [(n, "x" * 200) for n in range(1, 2001)])
    damaged = bytearray(path.read_bytes())
    damaged[20 * 4096:22 * 4096] = bytes(2 * 4096)  # two leaves in the middle zeroed
    path.write_bytes(bytes(damaged))
    with sqlite3.connect(path) as connection, pytest.raises(sqlite3.DatabaseError):
        list(connection.iterdump())
    numbers = [n for n, _ in readable_rows(path, "t", ["n", "text"])]
    assert numbers == sorted(numbers) and numbers[-1] == 2000 and 1800 < len(numbers) < 2000


def test_the_command_line_exports_and_measures_agreement_from_a_damaged_judgements_file(sample, tmp_path, monkeypatch,
                                                                                      capsys, caplog):
    from explorer.cli import main

    workspace = cache_sharing_models(tmp_path / "workspace")
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(workspace))
    path = workspace / "judgements.sqlite"
    given = fill_judgements(path, 900, dataset_key(SAMPLE_DATA), docs=[d.doc_id for d in sample.documents[:60]],
                            queries=sorted(sample.queries)[:20])
    cut_in_half(path)
    with caplog.at_level(logging.WARNING):
        assert main(["judgements", "export", "--rule", "strictest"]) == 0
    exported = capsys.readouterr().out.splitlines()
    said = [r.getMessage() for r in caplog.records if r.name == "explorer.judging.store"]
    assert len(said) == 1 and "was damaged (database disk image is malformed)" in said[0]
    recovered = JudgementStore(path).count()
    assert f"{recovered:,} grade(s)" in said[0] and 0 < recovered < len(given)
    assert exported and len(exported) <= recovered
    assert main(["judgements", "agreement"]) == 0  # the fresh file: no second recovery, no traceback
    assert "raters" in capsys.readouterr().out and len(asides(path)) == 1


def test_a_damaged_score_store_is_moved_aside_and_a_new_one_started_with_a_warning(tmp_path, caplog):
    cache = persistent_score_cache(tmp_path)
    for query in range(200):
        cache.put_many("model", f"q{query}", [f"text {i}" for i in range(100)], [(float(i), False) for i in range(100)])
    cache.store.close()
    path = tmp_path / "scores.sqlite3"
    kept = cut_in_half(path)
    with caplog.at_level(logging.WARNING, logger="explorer.rerank.score_cache"):
        cache = persistent_score_cache(tmp_path)
    assert cache.get_many("model", "q1", ["text 1"]) == [None]  # scored again, as if new
    cache.put_many("model", "q1", ["text 1"], [(1.0, False)])
    assert persistent_score_cache(tmp_path).get_many("model", "q1", ["text 1"]) == [(1.0, False)]
    (aside,) = asides(path)
    assert aside.read_bytes() == kept
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "was damaged (database disk image is malformed)" in warning and str(aside) in warning


@pytest.mark.slow
def test_the_command_line_searches_on_with_a_damaged_score_store(tmp_path, monkeypatch, capsys, caplog):
    from explorer.cli import main

    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache_sharing_models(tmp_path / "cache")))
    search = ["search", "rotate the database password", "--depth", "20", "--json"]
    assert main(search) == 0
    first = capsys.readouterr().out
    gc.collect()  # the first run's connection to the store closed, as when that run's process ended
    path = tmp_path / "cache" / "scores.sqlite3"
    cut_in_half(path)
    with caplog.at_level(logging.WARNING):
        assert main(search) == 0
    assert capsys.readouterr().out.count('"doc_id"') == first.count('"doc_id"')
    said = " ".join(r.getMessage() for r in caplog.records if r.name == "explorer.rerank.score_cache")
    assert "score store" in said and "was damaged" in said and "moved aside" in said
    assert len(asides(path)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("page", ["0_Search.py", "9_Judge.py"])
def test_the_search_and_judge_pages_say_the_judgements_were_recovered_instead_of_a_traceback(sample, tmp_path,
                                                                                           monkeypatch, page):
    from ui import cache

    workspace = tmp_path / "workspace"
    path = workspace / "judgements.sqlite"
    fill_judgements(path, 600, dataset_key(SAMPLE_DATA), docs=[d.doc_id for d in sample.documents[:60]],
                    queries=sorted(sample.queries)[:20])
    cut_in_half(path)
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache_sharing_models(workspace)))
    cache.settings.clear()
    cache.judgements.clear()
    try:
        app = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=300)
        app.session_state["rater"] = "ann"
        app.run()
        assert not app.exception, app.exception
        warned = [w.value for w in app.warning if "judgements file" in w.value]
        assert len(warned) == 1 and "was damaged" in warned[0] and "grade(s)" in warned[0]
        assert not app.error, [e.value for e in app.error]
        app.run()  # said once in a session, not on every rerun
        assert not [w for w in app.warning if "judgements file" in w.value]
    finally:
        monkeypatch.undo()
        cache.settings.clear()
        cache.judgements.clear()

"""`python -m explorer` drives the same engine."""

import json
import subprocess
import sys
from pathlib import Path

from explorer.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_search_json(capsys):
    assert main(["search", "rotate the database password", "--depth", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["first_stage"]) == 20 and len(result["reranked"]) == 20
    assert set(result["timings"]) == {"query_encoding_ms", "vector_search_ms", "reranking_ms", "total_ms"}
    assert result["reranker"]["trained_for_relevance"] is False


def test_first_stage_only_and_text_output(capsys):
    assert main(["search", "vpn drops", "--reranker", "none", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "first stage (top 3 of 100)" in out and "reranked" not in out


def test_errors_are_one_line_and_exit_2():
    done = subprocess.run([sys.executable, "-m", "explorer", "index", "--data", "/no/such/folder"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: /no/such/folder: No folder there.")

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
    assert set(result["timings"]) == {"query_encoding_ms", "first_stage_ms", "reranking_ms", "total_ms"}
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


def test_eval_writes_the_documented_json(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["eval", "--split", "test", "--depth", "5", "--json", str(out), "--runs", str(tmp_path / "runs"),
                 "--report", str(tmp_path / "report.html")]) == 0
    summary = json.loads(out.read_text())
    assert summary["n_queries"] == 53
    assert {"ndcg@10", "mrr@10", "recall@100"} <= set(summary["first_stage"]) <= set(summary["reranked"])
    assert set(summary["latency_ms"]) == {"query_encoding", "first_stage", "rerank"}
    assert summary["latency_ms"]["rerank"] > 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["test.dense.first_stage.trec",
                                                                     "test.dense.reranked.trec"]
    assert "Plotly.newPlot" in (tmp_path / "report.html").read_text()
    assert "reranked" in capsys.readouterr().out


def test_eval_bm25_without_a_reranker(tmp_path, capsys):
    assert main(["eval", "--first-stage", "bm25", "--reranker", "none", "--json", "-"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.index("{"):])
    assert summary["reranked"] is None and summary["first_stage_method"] == "bm25"
    assert 0.3 < summary["first_stage"]["ndcg@10"] < 1.0


def test_eval_rejects_a_bad_metric(capsys):
    assert main(["eval", "--reranker", "none", "--metrics", "bleu@4"]) == 2
    assert "Unknown metric 'bleu@4'" in capsys.readouterr().err

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


def test_search_json_is_alone_on_stdout_when_int8_is_made_on_first_use(tmp_path):
    """A first run on a CPU that takes int8: NNCF quantises the reranker and prints its progress bars; stdout still
    carries the JSON alone (a program reading it parses it), and the bars go to stderr."""
    import os

    from tests.cache_support import cache_sharing_models

    # the int8 graph is made here, in a compiled folder of the test's own; the corpus embeddings are the session's
    cache = cache_sharing_models(tmp_path / "cache", parts=("embeddings",))
    env = {**os.environ, "EXPLORER_CACHE_DIR": str(cache), "EXPLORER_ENGINE": "int8"}
    done = subprocess.run([sys.executable, "-m", "explorer", "search", "rotate the database password", "--depth", "10",
                           "--json"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert "reranker engine: openvino · int8" in done.stderr, done.stderr[-2000:]
    assert len(result["reranked"]) == 10


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
    # judged@10 of each stage, as every page shows it, in the JSON and in the printed table
    assert set(summary["judged@10"]) == {"first_stage", "reranked"}
    assert all(0.0 <= share <= 1.0 for share in summary["judged@10"].values())
    printed = capsys.readouterr().out
    assert "reranked" in printed and "judged@10" in printed


def test_eval_bm25_without_a_reranker(tmp_path, capsys):
    assert main(["eval", "--first-stage", "bm25", "--reranker", "none", "--json", "-"]) == 0
    printed = capsys.readouterr()
    summary = json.loads(printed.out)  # the JSON alone on stdout; the table on stderr
    assert "first_stage" in printed.err
    assert summary["reranked"] is None and summary["first_stage_method"] == "bm25"
    assert 0.3 < summary["first_stage"]["ndcg@10"] < 1.0


def test_eval_rejects_a_bad_metric(capsys):
    assert main(["eval", "--reranker", "none", "--metrics", "bleu@4"]) == 2
    assert "Unknown metric 'bleu@4'" in capsys.readouterr().err


FORMATS = ROOT / "tests" / "data" / "formats"


def test_load_sniffs_a_semicolon_csv_and_says_so(capsys):
    assert main(["load", "--kind", "table", str(FORMATS / "corpus_semicolon.csv")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6 documents") and "warning: corpus_semicolon.csv: read as semicolon-separated (';'" in out
    assert main(["load", "--kind", "table", str(FORMATS / "corpus_semicolon.csv"), "--delimiter", ";"]) == 0
    assert "6 documents, 0 queries, 0 labelled queries, 0 labels, 0 warning(s)" in capsys.readouterr().out


def test_load_with_the_wrong_delimiter_names_the_option(capsys):
    assert main(["load", "--kind", "table", str(FORMATS / "corpus_semicolon.csv"), "--delimiter", ","]) == 2
    err = capsys.readouterr().err
    assert "which holds semicolons: the file is not CSV-delimited. Choose the delimiter ';'" in err
    assert "--delimiter on the command line" in err


def test_load_without_a_text_column_lists_the_columns_and_the_option(tmp_path, capsys):
    table = tmp_path / "c.csv"
    table.write_text("id,name\n1,alpha\n2,beta\n")
    assert main(["load", "--kind", "table", str(table)]) == 2
    err = capsys.readouterr().err
    assert "the columns are 'id', 'name'" in err and "--text-column" in err
    assert main(["load", "--kind", "table", str(table), "--text-column", "body"]) == 2
    err = capsys.readouterr().err
    assert "missing column(s) 'body'; the header has 'id', 'name'" in err and "--text-column" in err


def test_load_beir_says_which_label_files_it_did_not_read(tmp_path, capsys):
    folder = tmp_path / "beir"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "one"}\n{"_id": "d2", "text": "two"}\n')
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "one"}\n')
    (folder / "qrels.txt").write_text("q1 0 d1 1\n")
    assert main(["load", "--kind", "beir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "0 labels, 1 warning(s)" in out
    assert ("warning: qrels.txt: this looks like relevance labels but was not read: a BEIR folder's labels are read "
            "from qrels/<split>.tsv only") in out


def test_load_reads_a_zip_of_a_beir_folder(tmp_path, capsys):
    import zipfile

    archive = tmp_path / "sample.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in (ROOT / "sample_data").rglob("*"):
            if path.is_file():
                out.write(path, "sample/" + path.relative_to(ROOT / "sample_data").as_posix())
    assert main(["load", "--kind", "beir", str(archive), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["documents"] == 510 and report["queries"] > 0


def test_a_command_process_ends_after_its_threads_and_exit_handlers_without_destroying_what_is_left(tmp_path):
    """How ``python -m explorer`` ends (explorer.process_end): its status kept, a non-daemon thread finished, the exit
    handlers run and the output flushed, as in a normal exit; but no object left in memory is destroyed (destroying
    a compiled OpenVINO model was seen to hang for good)."""
    script = tmp_path / "ends.py"
    script.write_text(f"""
import atexit, sys, threading, time
from pathlib import Path
from explorer.process_end import end_process

folder = Path({str(tmp_path)!r})

class Left:
    def __del__(self):
        (folder / "destroyed").write_text("yes")

left = Left()
atexit.register(lambda: (folder / "handler ran").write_text("yes"))
threading.Thread(target=lambda: (time.sleep(0.5), (folder / "thread finished").write_text("yes"))).start()
sys.stdout.write("an answer without a newline")
sys.stderr.write("a note")
end_process(3)
""", encoding="utf-8")
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 3, done.stderr[-2000:]
    assert (done.stdout, done.stderr) == ("an answer without a newline", "a note")
    assert (tmp_path / "handler ran").is_file() and (tmp_path / "thread finished").is_file()
    assert not (tmp_path / "destroyed").exists()
    # the same script ending normally destroys it: what the check above would miss
    script.write_text(script.read_text(encoding="utf-8").replace("end_process(3)", "sys.exit(3)"), encoding="utf-8")
    assert subprocess.run([sys.executable, str(script)], env=env, timeout=120).returncode == 3
    assert (tmp_path / "destroyed").is_file()

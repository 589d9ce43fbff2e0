"""Judgements: stored safely in SQLite, merged with qrels, pooled blind, agreement and coverage by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from explorer.errors import ConfigError
from explorer.judging.agreement import agreement
from explorer.judging.coverage import condensed, coverage, judged_at_k
from explorer.judging.labels import combined, merged, one_grade
from explorer.judging.pool import judging_pool
from explorer.judging.qrels_io import import_qrels, qrels_text
from explorer.judging.store import Judgement, JudgementStore, typed_query_id
from tests.cache_support import cache_sharing_models

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path):
    return JudgementStore(tmp_path / "judgements.sqlite")


def test_a_grade_is_saved_and_each_rater_keeps_their_own(store):
    store.put("kb", Judgement("q1", "d1", "ann", 3))
    store.put("kb", Judgement("q1", "d1", "bob", 1))
    store.put("kb", Judgement("q1", "d1", "ann", 2))  # ann changes her mind: only her row changes
    grades = {(j.rater, j.grade) for j in store.judgements("kb", "q1")}
    assert grades == {("ann", 2), ("bob", 1)}
    assert store.count("kb") == 2 and store.version("kb") == 3
    store.remove("kb", "q1", "d1", "bob")
    assert [j.rater for j in store.judgements("kb")] == ["ann"] and store.version("kb") == 4
    assert store.count("other") == 0 and store.version("other") == 0


@pytest.mark.parametrize("grade", [4, -1, 1.5, True, "2"])
def test_a_grade_outside_the_scale_is_refused_with_the_scale_named(store, grade):
    with pytest.raises(ConfigError, match=r"outside this data set's scale, 0-3"):
        store.put("kb", Judgement("q1", "d1", "ann", grade))
    assert store.count() == 0


def test_a_binary_data_set_takes_0_and_1_and_a_scale_change_never_orphans_grades(store):
    store.set_scale("yes-no", "binary")
    with pytest.raises(ConfigError, match="0-1"):
        store.put("yes-no", Judgement("q1", "d1", "ann", 2))
    store.put("yes-no", Judgement("q1", "d1", "ann", 1))
    store.put("kb", Judgement("q1", "d1", "ann", 3))
    with pytest.raises(ConfigError, match="grades up to 3"):
        store.set_scale("kb", "binary")
    assert store.scale("kb") == "graded" and store.scale("yes-no") == "binary"


def test_a_rater_name_is_needed(store):
    with pytest.raises(ConfigError, match="rater name"):
        store.put("kb", Judgement("q1", "d1", "  ", 1))


def test_a_typed_query_gets_a_stable_id(store):
    first = store.add_query("kb", "How do I  rotate the VPN key?")
    assert first == typed_query_id("how do i rotate the vpn key?") and first.startswith("typed-")
    assert store.add_query("kb", "how do i rotate the vpn key?") == first
    assert store.queries("kb") == {first: "How do I rotate the VPN key?"}
    with pytest.raises(ConfigError, match="empty"):
        store.add_query("kb", "   ")


def test_guidelines_are_kept_per_data_set(store):
    store.set_guidelines("kb", "3: answers the question.")
    assert store.guidelines("kb") == "3: answers the question." and store.guidelines("other") == ""


def test_two_sessions_judging_at_once_leave_every_row(tmp_path):
    """Two raters in two sessions of one server share the store: 50 grades each, all kept."""
    shared = JudgementStore(tmp_path / "judgements.sqlite")

    def judge(rater: str) -> None:
        for doc in range(50):
            shared.put("kb", Judgement(f"q{doc % 5}", f"d{doc}", rater, doc % 4))

    threads = [threading.Thread(target=judge, args=(rater,)) for rater in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared.count("kb") == 100


WRITER = """
import sys
from pathlib import Path
from explorer.judging.store import Judgement, JudgementStore
store = JudgementStore(Path(sys.argv[1]))
rater, count = sys.argv[2], int(sys.argv[3])
for doc in range(count):
    store.put("kb", Judgement(f"q{doc % 7}", f"d{doc}", rater, doc % 4))
    print(doc, flush=True)  # acknowledged: on disk
"""


def writer(path: Path, rater: str, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), rater, str(count)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_two_processes_judging_one_file_at_once_leave_every_row(tmp_path):
    """The app and the command line (or two servers) on one judgements file: each its own connection."""
    path = tmp_path / "judgements.sqlite"
    processes = [writer(path, rater, 50) for rater in ("ann", "bob")]
    for process in processes:
        process.communicate(timeout=120)
        assert process.returncode == 0
    assert JudgementStore(path).count("kb") == 100


def test_a_server_killed_mid_loop_loses_at_most_the_grade_in_flight(tmp_path):
    path = tmp_path / "judgements.sqlite"
    process = writer(path, "ann", 100_000)
    acknowledged = 0
    assert process.stdout is not None
    deadline = time.time() + 60
    while acknowledged < 40:
        line = process.stdout.readline()
        assert line and time.time() < deadline, "the writer stopped early"
        acknowledged = int(line) + 1
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    rest = process.stdout.read().split()
    acknowledged += len(rest)  # printed before the kill landed
    kept = JudgementStore(path).count("kb")
    assert acknowledged <= kept <= acknowledged + 1, (acknowledged, kept)


def test_grades_of_several_raters_become_one_by_the_chosen_rule():
    assert one_grade([1, 2], "mean") == 2 and one_grade([1, 1, 2], "mean") == 1 and one_grade([0, 3], "mean") == 2
    assert one_grade([1, 2, 2, 3], "majority") == 2 and one_grade([1, 3], "majority") == 1
    assert one_grade([3, 1, 2], "strictest") == 1
    with pytest.raises(ConfigError, match="mean, majority, strictest"):
        one_grade([1], "loudest")  # type: ignore[arg-type]
    judgements = [Judgement("q1", "d1", "ann", 3), Judgement("q1", "d1", "bob", 1), Judgement("q2", "d2", "ann", 0)]
    assert combined(judgements, "strictest") == {"q1": {"d1": 1}, "q2": {"d2": 0}}


def test_judgements_merge_with_the_data_sets_qrels_and_keep_their_source():
    labels = merged({"q1": {"d1": 3, "d2": 0}}, {"q1": {"d2": 2, "d3": 1}, "typed-x": {"d4": 3}})
    assert labels.qrels == {"q1": {"d1": 3, "d2": 2, "d3": 1}, "typed-x": {"d4": 3}}
    assert labels.sources["q1"] == {"d1": "qrels", "d2": "judged", "d3": "judged"}
    assert labels.count("judged") == 3 and labels.count("qrels") == 1


def test_cohens_kappa_with_linear_weights_equals_the_hand_computed_value():
    # ann 0 1 2 3 1, bob 0 2 2 3 0 on 0-3: observed disagreement 2/15, expected 32/75 -> 1 - 0.3125
    ann, bob = [0, 1, 2, 3, 1], [0, 2, 2, 3, 0]
    judgements = [Judgement("q", f"d{i}", "ann", g) for i, g in enumerate(ann)]
    judgements += [Judgement("q", f"d{i}", "bob", g) for i, g in enumerate(bob)]
    result = agreement(judgements)
    assert result.raters == ("ann", "bob") and result.shared_pairs == 5
    assert result.kappa == pytest.approx(0.6875)
    assert [(d.doc_id, d.grades) for d in result.disagreements] == [("d1", {"ann": 1, "bob": 2}),
                                                                    ("d4", {"ann": 1, "bob": 0})]


def test_krippendorffs_alpha_equals_the_hand_computed_value():
    # binary, ann 1 1 0 0 1, bob 1 0 0 0 1: coincidences o01 = o10 = 1, n0 = n1 = 5, n = 10 ->
    # alpha = 1 - (n - 1) * 2 / (2 * n0 * n1) = 1 - 18 / 50
    ann, bob = [1, 1, 0, 0, 1], [1, 0, 0, 0, 1]
    judgements = [Judgement("q", f"d{i}", "ann", g) for i, g in enumerate(ann)]
    judgements += [Judgement("q", f"d{i}", "bob", g) for i, g in enumerate(bob)]
    judgements.append(Judgement("q", "only-ann", "ann", 1))  # judged by one rater: says nothing about agreement
    result = agreement(judgements, scale=(0, 1))
    assert result.alpha == pytest.approx(0.64) and result.shared_pairs == 5
    three = agreement(judgements + [Judgement("q", "d0", "cy", 0)], scale=(0, 1))
    assert three.kappa is None and three.alpha is not None and three.raters == ("ann", "bob", "cy")
    assert "no pair" in agreement(judgements[:5]).summary.lower()


def test_the_pool_is_the_union_of_the_top_n_in_a_blind_order_fixed_per_query_and_rater():
    first_stage = [f"d{i}" for i in range(20)]
    reranked = ["d15", "d3", "d0", "d19", "d1", "d2", "d4", "d5", "d6", "d7"]
    pool = judging_pool("q1", "ann", [first_stage, reranked], depth=10)
    assert sorted(pool) == sorted(set(first_stage[:10]) | {"d15", "d19"}) and len(pool) == 12
    assert pool == judging_pool("q1", "ann", [first_stage, reranked], depth=10)  # the same on every visit
    assert pool != judging_pool("q1", "bob", [first_stage, reranked], depth=10)
    assert pool != first_stage[:10] + ["d15", "d19"]  # not in rank order


def test_judged_at_k_and_condensed_lists_by_hand():
    labels = {"a": 1, "c": 0, "e": 3}
    assert judged_at_k(["a", "b", "c", "d"], labels, k=4) == 0.5
    assert judged_at_k(["a", "b"], labels, k=10) == 0.5  # of the top k the list has
    assert judged_at_k([], labels) == 1.0
    assert condensed(["a", "b", "c", "d", "e"], labels) == ["a", "c", "e"]
    result = coverage("reranked", {"q1": ["a", "b", "c", "d"], "q2": ["x"]}, {"q1": labels}, k=4)
    assert result.mean == pytest.approx(0.25) and result.holes == 3
    assert result.low_queries == ["q2", "q1"] and result.is_low


def test_qrels_round_trip_through_the_store(store, tmp_path):
    labels = {"q1": {"d 1": 3, "d2": 0}, "typed-abc": {"d3": 2}}
    text = qrels_text(labels)
    assert "q1 0 d%201 3" in text  # an id with a space stays one field
    other = JudgementStore(tmp_path / "other.sqlite")
    report = import_qrels(text, other, "kb", "imported", {"q1", "typed-abc"}, {"d 1", "d2", "d3"})
    assert report.imported == 3 and report.problems == ()
    assert combined(other.judgements("kb")) == labels


def test_a_bad_qrels_import_is_reported_line_by_line_and_loses_nothing(store):
    store.put("kb", Judgement("q1", "d1", "ann", 3))
    text = "\n".join([
        "q1 0 d2 1",        # fine
        "q9 0 d2 1",        # unknown query
        "q1 0 d9 1",        # unknown document
        "q1 0 d3 1.5",      # not a whole number
        "q1 0 d3 4",        # off the scale
        "q1 d3 2",          # three fields
        "# a comment",
        "q1 0 d1 0",        # fine: ann's own grade of d1 is untouched (this is bob's)
    ])
    report = import_qrels(text, store, "kb", "bob", {"q1"}, {"d1", "d2", "d3"})
    assert report.imported == 2
    assert [problem.split(":")[0] for problem in report.problems] == ["line 2", "line 3", "line 4", "line 5",
                                                                        "line 6"]
    assert "unknown query id 'q9'" in report.problems[0] and "unknown document id 'd9'" in report.problems[1]
    assert "not a whole number" in report.problems[2] and "outside this data set's scale" in report.problems[3]
    assert "four" in report.problems[4]
    assert {(j.doc_id, j.rater, j.grade) for j in store.judgements("kb")} == {("d1", "ann", 3), ("d2", "bob", 1),
                                                                             ("d1", "bob", 0)}


def test_the_command_line_imports_measures_agreement_exports_and_evaluates_with_judgements(sample, tmp_path,
                                                                                          monkeypatch, capsys):
    import json

    from explorer.cli import main

    # a judgements file of its own
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache_sharing_models(tmp_path / "workspace")))
    queries = sorted(sample.queries)[:2]
    docs = [doc.doc_id for doc in sample.documents[:3]]
    ann = "".join(f"{q} 0 {d} {g}\n" for q in queries for d, g in zip(docs, (3, 1, 0)))
    bob = "".join(f"{q} 0 {d} {g}\n" for q in queries for d, g in zip(docs, (2, 1, 0))) + "nope 0 d 1\n"
    (tmp_path / "ann.qrels").write_text(ann)
    (tmp_path / "bob.qrels").write_text(bob)
    assert main(["judgements", "import", "--file", str(tmp_path / "ann.qrels"), "--rater", "ann"]) == 0
    assert main(["judgements", "import", "--file", str(tmp_path / "bob.qrels"), "--rater", "bob"]) == 1
    said = capsys.readouterr().err
    assert "Imported 6 judgements; 1 lines refused" in said and "line 7: unknown query id 'nope'" in said
    assert main(["judgements", "agreement"]) == 0
    printed = capsys.readouterr().out
    assert "6 pairs judged by two raters or more (ann, bob)" in printed and "Cohen's kappa" in printed
    assert main(["judgements", "export", "--rule", "strictest", "--out", str(tmp_path / "out.qrels")]) == 0
    exported = (tmp_path / "out.qrels").read_text().splitlines()
    assert f"{queries[0]} 0 {docs[0]} 2" in exported and len(exported) == 6
    assert main(["eval", "--split", "judged here", "--depth", "5", "--reranker", "none",
                 "--json", str(tmp_path / "eval.json"), "--snapshot", "before"]) == 0
    summary = json.loads((tmp_path / "eval.json").read_text())
    assert summary["n_queries"] == 2
    said = capsys.readouterr().err
    assert "judged@10: first_stage" in said and "saved as snapshot 'before' (judged here labels + judgements v2 (mean of raters))" in said
    # bob grades one more document; the same evaluation again, as a second snapshot, then both side by side
    (tmp_path / "more.qrels").write_text(f"{queries[0]} 0 {sample.documents[5].doc_id} 3\n")
    assert main(["judgements", "import", "--file", str(tmp_path / "more.qrels"), "--rater", "bob"]) == 0
    assert main(["eval", "--split", "judged here", "--depth", "5", "--reranker", "none", "--snapshot", "after"]) == 0
    assert main(["snapshots", "list"]) == 0
    listed = capsys.readouterr().out
    assert "before" in listed and "judgements v3" in listed
    assert main(["snapshots", "diff", "before", "after", "--metric", "recall@100", "--json", "-"]) == 0
    compared = capsys.readouterr().out
    assert json.loads(compared[compared.index("{"):])["names"] == ["before", "after"]
    assert main(["snapshots", "diff", "before"]) == 2  # one name: a message, not a traceback


def test_rank_biased_overlap_and_jaccard_by_hand():
    from explorer.judging.overlap import jaccard_at_k, rank_biased_overlap, stage_agreement

    # swapped pair, p = 0.5: X1 = 0, X2 = 2 -> (2/2) 0.25 + (0.5/0.5) (0 + (2/2) 0.25) = 0.5
    assert rank_biased_overlap(["a", "b"], ["b", "a"], k=2, p=0.5) == pytest.approx(0.5)
    assert rank_biased_overlap(list("abc"), list("abc"), k=3, p=0.5) == pytest.approx(1.0)
    assert rank_biased_overlap(list("abc"), list("xyz"), k=3) == 0.0
    # a, b, c against a, x, b with p = 0.5: X = 1, 1, 2 -> (2/3) 0.125 + (1 0.5 + 0.5 0.25 + (2/3) 0.125)
    assert rank_biased_overlap(list("abc"), list("axb"), k=3, p=0.5) == pytest.approx(2 / 3 * 0.125 + 0.5 + 0.125
                                                                                      + 2 / 3 * 0.125)
    assert jaccard_at_k(list("abcd"), list("cdef"), k=4) == pytest.approx(2 / 6)
    agreement = stage_agreement({"q1": list("abc"), "q2": list("abc")}, {"q1": list("abc"), "q2": list("cxy")}, k=3)
    assert agreement.most_different == ["q2", "q1"] and agreement.jaccard["q2"] == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="persistence"):
        rank_biased_overlap(["a"], ["a"], p=1.0)


def test_a_query_set_is_read_from_text_or_csv_without_blanks_or_repeats_and_sampled_the_same_way_each_time():
    from explorer.judging.query_sets import read_query_set

    text = "reset my password\n\n  Reset   my password \nvpn keeps dropping\n" + "x" * 3000 + "\nwhere are logs\n"
    read = read_query_set(text, "log.txt")
    assert read.queries == ("reset my password", "vpn keeps dropping", "where are logs")
    assert read.read == 3 and len(read.skipped) == 1 and "line 5: 3,000 characters" in read.skipped[0]
    table = 'id,Query,clicks\n1,"reset my password, again",4\n2,vpn keeps dropping,1\n'
    assert read_query_set(table, "log.csv").queries == ("reset my password, again", "vpn keeps dropping")
    assert read_query_set("first\tcolumn\nsecond\tcolumn\n", "log.tsv").queries == ("first", "second")
    many = "\n".join(f"query {i}" for i in range(50))
    sample = read_query_set(many, "log.txt", sample=5)
    assert len(sample.queries) == 5 and sample == read_query_set(many, "log.txt", sample=5)
    assert sample.summary == "5 queries to judge (a sample of 5 of 50)."
    with pytest.raises(ConfigError, match="No query found"):
        read_query_set("\n \n", "empty.txt")
    with pytest.raises(ConfigError, match="at least 1"):
        read_query_set(many, "log.txt", sample=0)


def test_imported_queries_are_recorded_once_and_a_rule_chosen_for_the_data_set_makes_the_labels(store, sample):
    from explorer.judging.datasets import JUDGED_SPLIT, label_version, with_judgements

    ids = store.add_queries("kb", ["reset my password", "vpn keeps dropping"])
    assert store.add_queries("kb", ["Reset my  password"]) == ids[:1]  # the same query, spaced differently
    assert list(store.queries("kb")) == ids and store.version("kb") == 0  # queries alone are no labels
    doc = sample.documents[0].doc_id
    store.put_many("kb", [Judgement(ids[0], doc, "ann", 3), Judgement(ids[0], doc, "bob", 0)])
    assert store.rule("kb") == "mean" and label_version(store, "kb", "test") == "test labels + judgements v1 (mean of raters)"
    assert with_judgements(sample, store, "kb").qrels_by_split[JUDGED_SPLIT][ids[0]][doc] == 2  # (3 + 0) / 2 rounded up
    store.set_rule("kb", "strictest")
    assert store.rule("kb") == "strictest" and store.version("kb") == 2  # the labels changed: a new version
    assert with_judgements(sample, store, "kb").qrels_by_split[JUDGED_SPLIT][ids[0]][doc] == 0
    assert store.rule("other") == "mean"
    with pytest.raises(ConfigError, match="mean, majority, strictest"):
        store.set_rule("kb", "loudest")  # type: ignore[arg-type]


def test_a_copy_of_a_saved_data_set_carries_its_judgements_and_reads_back_as_a_beir_folder(store, sample, tmp_path):
    import io
    import shutil
    import zipfile

    from explorer.judging.dataset_copy import COPY_SPLIT, dataset_copy
    from explorer.loading import load_beir
    from tests.conftest import SAMPLE

    folder = shutil.copytree(SAMPLE, tmp_path / "kb")
    typed = store.add_query("kb", "how do I rotate a key")
    docs = [doc.doc_id for doc in sample.documents[:2]]
    store.put_many("kb", [Judgement(typed, docs[0], "ann", 3), Judgement(typed, docs[1], "ann", 1),
                          Judgement(typed, docs[1], "bob", 2, note="close call")])
    with zipfile.ZipFile(io.BytesIO(dataset_copy(folder, store, "kb"))) as archive:
        archive.extractall(tmp_path / "unzipped")
    copy = load_beir(tmp_path / "unzipped" / "kb")
    assert copy.queries[typed].text == "how do I rotate a key" and len(copy.documents) == len(sample.documents)
    assert copy.qrels_by_split[COPY_SPLIT] == {typed: {docs[0]: 3, docs[1]: 2}}  # mean of 1 and 2, rounded up
    assert copy.qrels_by_split["test"] == sample.qrels_by_split["test"]
    rows = (tmp_path / "unzipped" / "kb" / "judgements.tsv").read_text().splitlines()
    assert len(rows) == 4 and rows[-1].split("\t")[2:4] == ["bob", "2"] and rows[-1].endswith("close call")
    with pytest.raises(ConfigError, match="not a saved data set"):
        dataset_copy(tmp_path, store, "kb")


def test_the_command_line_imports_a_sampled_query_set(tmp_path, monkeypatch, capsys):
    from explorer.cli import main

    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(cache_sharing_models(tmp_path / "workspace")))
    (tmp_path / "log.csv").write_text("query\n" + "\n".join(f"question {i}" for i in range(30)) + "\n")
    assert main(["judgements", "import-queries", "--file", str(tmp_path / "log.csv"), "--sample", "7"]) == 0
    assert "7 queries to judge (a sample of 7 of 30)." in capsys.readouterr().err
    from explorer.settings import Settings

    assert len(JudgementStore(Settings.from_env().judgements_path).queries("sample_data")) == 7
    assert main(["judgements", "import-queries", "--file", str(tmp_path / "missing.txt")]) == 2

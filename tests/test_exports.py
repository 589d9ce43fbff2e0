"""Exports: TREC runs, metric tables and the self-contained HTML report, on a hand-made evaluation."""

import json
import re

import pytest

from explorer.errors import ConfigError
from explorer.evaluation.html_report import evaluation_report, report_file_name
from explorer.evaluation.run_files import trec_run
from explorer.evaluation.runner import EvalConfig, Evaluation, QueryOutcome
from explorer.evaluation.tables import metrics_table, summary_json

HOSTILE = "<script>alert('query')</script> & friends"


@pytest.fixture
def evaluation():
    outcomes = (
        QueryOutcome("q1", ("a", "b", "c"), (0.9, 0.8, 0.7), ("c", "a", "b"), (4.0, 2.0, -1.0), None, 5.0, 0.5, 30.0),
        QueryOutcome("q2", ("d", "e", "f"), (0.6, 0.5, 0.4), ("d", "f", "e"), (3.0, 1.0, 0.5), None, 7.0, 0.7, 50.0),
        QueryOutcome("q3", ("g", "h", "i"), (0.6, 0.5, 0.4), ("h", "g", "i"), (3.0, 1.0, 0.5), None, 6.0, 0.6, 40.0),
    )
    qrels = {"q1": {"c": 2, "a": 1}, "q2": {"f": 1}, "q3": {"g": 2}}
    return Evaluation("dense → test", EvalConfig("test", depth=3), "bi", "rr", outcomes, qrels,
                      {"q1": HOSTILE, "q2": "two", "q3": "three"})


def test_trec_run_lines(evaluation):
    lines = trec_run(evaluation, "reranked", tag="my run").splitlines()
    assert lines[0] == "q1 Q0 c 1 4.000000 my_run"
    assert len(lines) == 9
    first = trec_run(evaluation, "first_stage").splitlines()
    assert first[3] == "q2 Q0 d 1 0.600000 dense-first_stage"


def test_trec_run_of_a_blended_order_keeps_the_order(evaluation):
    from dataclasses import replace

    blended = replace(evaluation, config=EvalConfig("test", depth=3, blend=0.5))
    scores = [float(line.split()[4]) for line in trec_run(blended, "reranked").splitlines()[:3]]
    assert scores == sorted(scores, reverse=True)


def test_metrics_table_and_summary(evaluation):
    table = metrics_table([evaluation], ["ndcg@10", "mrr@10"])
    assert list(table["stage"]) == ["first stage", "reranked"]
    assert table.loc[1, "mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 2) / 3, abs=1e-4)
    summary = summary_json(evaluation)
    assert summary["n_queries"] == 3
    assert set(summary["first_stage"]) == {"ndcg@10", "mrr@10", "recall@100"}
    assert summary["latency_ms"] == {"query_encoding": 6.0, "first_stage": 0.6, "rerank": 40.0}
    json.dumps(summary)  # plain JSON types only


def test_the_html_report_is_self_contained_and_escaped(evaluation):
    report = evaluation_report(evaluation, ["ndcg@10", "mrr@10"])
    assert HOSTILE not in report and "&lt;script&gt;alert(" in report
    assert not re.search(r"<script[^>]+src=", report)  # plotly.js is inline, nothing is fetched
    assert report.count("<div class='chart'") >= 3
    assert "paired t-test" in report
    # coverage by hand: a and c of a, b, c; f of d, e, f; g of g, h, i -> (2/3 + 1/3 + 1/3) / 3
    assert "top 10 that has a label): first stage 0.44, reranked 0.44" in report


def test_a_stage_that_did_not_run_cannot_be_exported(evaluation):
    from dataclasses import replace

    bare = replace(evaluation, outcomes=tuple(replace(o, reranked=None, reranker_scores=None)
                                              for o in evaluation.outcomes))
    with pytest.raises(ConfigError, match="without a reranker"):
        trec_run(bare, "reranked")


def test_ids_with_white_space_are_escaped_so_every_run_line_has_six_fields(evaluation):
    from dataclasses import replace
    from urllib.parse import unquote

    from explorer.evaluation.run_files import escaped_ids

    odd = replace(evaluation, outcomes=(
        replace(evaluation.outcomes[0], query_id="q 1", reranked=("doc\tone", "a", "50%"), first_stage=("a",)),))
    lines = trec_run(odd, "reranked").splitlines()
    assert all(len(line.split()) == 6 for line in lines)
    assert [line.split()[2] for line in lines] == ["doc%09one", "a", "50%25"]
    assert {unquote(line.split()[0]) for line in lines} == {"q 1"}
    assert escaped_ids(odd, "reranked") == ["q 1", "doc\tone", "50%"]
    assert escaped_ids(evaluation, "reranked") == []


def test_the_html_report_carries_plotly_js_once_and_packed(evaluation):
    import base64
    import gzip
    from pathlib import Path

    import plotly

    report = evaluation_report(evaluation, ["ndcg@10", "mrr@10"])
    own = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()  # 4.8 MB
    # it weighed 5 MB with plotly.js inline as it is; gzipped and base64-encoded once, under half of that
    assert len(report.encode()) < len(own) / 2
    assert report.count("id='plotly-js'") == 1 and own[:2000].decode() not in report
    packed = re.search(r"<script type='application/octet-stream' id='plotly-js'>([A-Za-z0-9+/=]+)</script>", report)
    assert gzip.decompress(base64.b64decode(packed.group(1))) == own  # the plotly package's own file, whole


def test_the_reports_tables_round_by_the_pages_rule(evaluation):
    report = evaluation_report(evaluation, ["ndcg@10", "mrr@10"])
    # mrr@10 of the reranked lists: (1 + 1/2 + 1/2) / 3 = 0.6667, written with 3 decimals like every metric
    assert "<td>0.667</td>" in report and "0.6667" not in report


@pytest.mark.parametrize("parts, expected", [
    (("kb", "dense + default reranker, before tuning"), "kb.dense-default-reranker-before-tuning.report.html"),
    (("judged here.dense",), "judged-here.dense.report.html"),
    (("données/«été»",), "donnees-ete.report.html"),
    (("...",), "report.report.html"),
])
def test_report_file_names_are_safe(parts, expected):
    name = report_file_name(*parts)
    assert name == expected
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)


def test_the_report_explains_its_examples_when_given_the_reranker(evaluation):
    import numpy as np

    def letters(query, texts):  # a scorer by hand: the number of "x" in the text
        return np.array([text.count("x") for text in texts], dtype=float)

    plain = evaluation_report(evaluation, ["ndcg@10", "mrr@10"])
    explained = evaluation_report(evaluation, ["ndcg@10", "mrr@10"],
                                  explain_with=(letters, lambda doc_id: f"x {doc_id}. <b>y</b> x."))
    examples = explained.count("<div class='example'>")
    assert examples >= 1 and "Why the candidate's top result scored" not in plain
    assert explained.count("Why the candidate's top result scored") == examples
    assert "<b>y</b>" not in explained and "&lt;b&gt;y&lt;/b&gt;" in explained

"""The pipeline file: an opened pipeline written with its threshold and measured figures, read back, checked
against its schema with every problem named, and opened again to rank as the explorer did."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from explorer.cli import main
from explorer.errors import ConfigError
from explorer.evaluation.runner import EvalConfig, evaluate
from explorer.export.pipeline_file import (
    Measured,
    Threshold,
    pipeline_file,
    read_pipeline_file,
    write_pipeline_file,
)
from explorer.spec import Blend, DirectParts, PipelineSpec, open_pipeline

QUERY = "the vpn drops every few minutes on my laptop"


@pytest.fixture(scope="module")
def opened(settings):
    return open_pipeline(PipelineSpec(depth=12, blend=Blend("card")), DirectParts(settings), None)


def test_a_pipeline_file_read_back_opens_the_pipeline_that_ranks_as_the_explorer_did(opened, small_split, settings,
                                                                                      tmp_path):
    result = evaluate(opened.pipeline.with_dataset(small_split),
                      EvalConfig("few", depth=12, blend=opened.blend))
    exported = pipeline_file(opened, Threshold(2.5, "raw"), Measured.of(result, "test run", "few labels"))
    path = write_pipeline_file(exported, tmp_path / "pipeline.json")

    content = json.loads(path.read_text())
    assert content["kind"] == "relevance-explorer pipeline" and content["version"] == 1
    assert content["reranker"]["loaded"] == opened.reranker.info.loaded
    assert content["reranker"]["fingerprint"] == opened.reranker.info.fingerprint != ""
    assert content["blend"] == {"mode": "card", "weight": opened.blend}
    assert content["threshold"] == {"value": 2.5, "scale": "raw"}
    assert content["measured"]["summary"]["n_queries"] == 8
    assert content["measured"]["summary"]["reranked"]["ndcg@10"] == pytest.approx(
        result.metrics(["ndcg@10"])["reranked"]["ndcg@10"])
    assert "FAISS" in content["first_stage"]["index"]

    read = read_pipeline_file(path)
    assert read.to_json() == content
    again = open_pipeline(read.spec(), DirectParts(settings), None)
    assert read.differences(again) == []
    before, after = opened.search(QUERY), again.search(QUERY)
    assert [(h.doc_id, round(h.score, 5)) for h in after.reranked] == [
        (h.doc_id, round(h.score, 5)) for h in before.reranked]


def test_a_file_whose_models_differ_from_the_ones_that_loaded_names_each_difference(opened):
    exported = pipeline_file(opened)
    other_weights = replace(exported, reranker=replace(exported.reranker, fingerprint="0" * 64))
    assert other_weights.differences(opened) == [
        f"the reranker {exported.reranker.loaded} loaded here has other weights than the exported one "
        f"(fingerprint {opened.reranker.info.fingerprint[:12]} vs 000000000000)"]
    other_model = replace(exported, bi_encoder=replace(exported.bi_encoder, loaded="intfloat/e5-small-v2"))
    assert other_model.differences(opened) == [
        f"the bi-encoder intfloat/e5-small-v2 was exported, but {opened.pipeline.bi_encoder.info.loaded} loaded here"]
    assert exported.differences(opened) == []


@pytest.mark.parametrize("change, problem", [
    (lambda c: c.pop("reranker"), r"\(the top level\): 'reranker' is a required property"),
    (lambda c: c.update(depth="ten"), r"depth: 'ten' is not of type 'integer'"),
    (lambda c: c.update(version=2), r"version: 1 was expected"),
    (lambda c: c["blend"].update(weight=1.5), r"blend.weight: 1.5 is greater than the maximum of 1"),
    (lambda c: c["first_stage"].update(method="faiss"), r"first_stage.method: 'faiss' is not one of"),
    (lambda c: c.update(token="secret"), r"Additional properties are not allowed \('token' was unexpected\)"),
])
def test_a_damaged_pipeline_file_is_refused_with_the_place_of_each_problem(opened, tmp_path, change, problem):
    content = pipeline_file(opened).to_json()
    change(content)
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=problem):
        read_pipeline_file(path)


def test_files_that_are_not_a_pipeline_and_thresholds_that_cannot_apply_are_refused(opened, settings, tmp_path):
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(ConfigError, match="is not JSON"):
        read_pipeline_file(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="Cannot read the pipeline file"):
        read_pipeline_file(tmp_path / "missing.json")
    if not opened.reranker.info.has_probability:
        with pytest.raises(ConfigError, match="gives no probability"):
            pipeline_file(opened, Threshold(0.7, "probability"))
    with pytest.raises(ConfigError, match="between 0 and 1"):
        Threshold(1.5, "probability")
    first_stage_only = open_pipeline(PipelineSpec(reranker=None), DirectParts(settings), None)
    with pytest.raises(ConfigError, match="this pipeline has no reranker"):
        pipeline_file(first_stage_only, Threshold(0.5))


def test_the_command_line_exports_measured_figures_and_refuses_another_configurations_snapshot(tmp_path, capsys):
    out = tmp_path / "dense.json"
    assert main(["export", "--reranker", "none", "--measure", "test", "--out", str(out)]) == 0
    content = json.loads(out.read_text())
    assert content["reranker"] is None and content["threshold"] is None
    assert content["measured"]["summary"]["n_queries"] == 53 and content["measured"]["label_version"].startswith("test")
    assert main(["eval", "--reranker", "none", "--depth", "10", "--split", "test", "--snapshot", "shallow-export",
                 "--replace"]) == 0
    capsys.readouterr()
    assert main(["export", "--reranker", "none", "--snapshot", "shallow-export", "--out", str(tmp_path / "x.json")]) == 2
    said = capsys.readouterr().err
    assert "evaluated another configuration: depth 10 (snapshot) vs 100 (exported)" in said
    assert main(["export", "--reranker", "none", "--depth", "10", "--snapshot", "shallow-export",
                 "--out", str(tmp_path / "shallow.json")]) == 0
    assert json.loads((tmp_path / "shallow.json").read_text())["measured"]["source"] == "snapshot shallow-export"

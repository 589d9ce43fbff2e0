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


@pytest.fixture(scope="module")
def cascaded(opened, trained_folder, settings):
    """``opened`` with a cascade: the short trained run (another model than the default reranker) reads every
    candidate, the default reranker its best 4."""
    from explorer.models.resolution import load_reranker
    from explorer.rerank.cascade import CascadeSpec
    from explorer.spec import OpenPipeline

    small = load_reranker(str(trained_folder), opened.pipeline.bi_encoder.device, settings)
    return OpenPipeline(replace(opened.spec, cascade=CascadeSpec(str(trained_folder), 4)),
                        opened.pipeline.with_cascade(small, 4), opened.blend)


def test_a_pipeline_file_with_a_cascade_round_trips_and_opens_the_cascade(cascaded, settings, tmp_path):
    from explorer.export.pipeline_file import FileCascade, ModelRef
    from explorer.rerank.cascade import CascadeSpec

    small = cascaded.pipeline.cascade[0]
    path = write_pipeline_file(pipeline_file(cascaded), tmp_path / "cascade.json")
    content = json.loads(path.read_text())
    assert content["cascade"] == {"small": {"asked": str(small.info.requested), "loaded": small.info.loaded,
                                            "fingerprint": small.info.fingerprint}, "keep": 4}
    assert small.info.fingerprint != "" and small.info.loaded != cascaded.reranker.info.loaded

    read = read_pipeline_file(path)
    assert read.cascade == FileCascade(ModelRef.of(small.info), 4)
    assert read.to_json() == content
    assert read.spec().cascade == CascadeSpec(small.info.requested, 4)
    again = open_pipeline(read.spec(), DirectParts(settings), None)
    assert again.pipeline.cascade is not None and again.pipeline.cascade[1] == 4
    assert read.differences(again) == []
    before, after = cascaded.search(QUERY), again.search(QUERY)
    assert after.cascade is not None and after.cascade.pairs_main == 4
    assert [(h.doc_id, h.scored_by, round(h.score, 4)) for h in after.reranked] == [
        (h.doc_id, h.scored_by, round(h.score, 4)) for h in before.reranked]
    assert [h.scored_by for h in after.reranked] == ["main"] * 4 + ["small"] * 8


def test_a_file_without_a_cascade_reads_as_before_and_opens_without_one(opened, tmp_path):
    content = pipeline_file(opened).to_json()
    assert "cascade" not in content  # a file of before the cascade looks the same
    path = tmp_path / "old.json"
    path.write_text(json.dumps(content))
    read = read_pipeline_file(path)
    assert read.cascade is None and read.spec().cascade is None
    assert read.to_json() == content


def test_a_cascade_that_cannot_run_or_whose_small_model_differs_is_refused_or_named(cascaded, tmp_path):
    from explorer.rerank.cascade import CascadeSpec

    content = pipeline_file(cascaded).to_json()
    no_reranker = {**content, "reranker": None}
    (tmp_path / "no-reranker.json").write_text(json.dumps(no_reranker))
    with pytest.raises(ConfigError, match=r"cascade: .* has none \(reranker is null\); export the pipeline again "
                                          r"with a reranker, or remove the cascade"):
        read_pipeline_file(tmp_path / "no-reranker.json")
    (tmp_path / "keep-0.json").write_text(json.dumps({**content, "cascade": {**content["cascade"], "keep": 0}}))
    with pytest.raises(ConfigError, match=r"cascade.keep: 0 is less than the minimum of 1"):
        read_pipeline_file(tmp_path / "keep-0.json")
    with pytest.raises(ConfigError, match="export the pipeline again with a reranker"):
        write_pipeline_file(replace(pipeline_file(cascaded), reranker=None), tmp_path / "never.json")

    exported = pipeline_file(cascaded)
    small = cascaded.pipeline.cascade[0]
    other_weights = replace(exported, cascade=replace(exported.cascade,
                                                      small=replace(exported.cascade.small, fingerprint="f" * 64)))
    assert other_weights.differences(cascaded) == [
        f"the small reranker {small.info.loaded} loaded here has other weights than the exported one "
        f"(fingerprint {small.info.fingerprint[:12]} vs ffffffffffff)"]
    # the spec's cascade does not decide what is written: the pipeline's does (what runs)
    assert pipeline_file(replace(cascaded, pipeline=cascaded.pipeline.with_cascade(None))).cascade is None
    assert CascadeSpec(str(small.info.requested), 4) == exported.cascade.spec()


def test_a_pipeline_file_carries_the_rerankers_window_and_the_service_side_reads_it(opened, settings, tmp_path):
    from explorer.rerank.windows import WindowOptions
    from explorer.spec import OpenPipeline

    windowed = OpenPipeline(replace(opened.spec, window=WindowOptions(32)), opened.pipeline.with_window(
        WindowOptions(32)), opened.blend)
    path = write_pipeline_file(pipeline_file(windowed), tmp_path / "window.json")
    assert json.loads(path.read_text())["window"] == {"max_tokens": 32, "stride": 0}
    read = read_pipeline_file(path)
    assert read.window == WindowOptions(32) and read.spec().window == WindowOptions(32)
    again = open_pipeline(read.spec(), DirectParts(settings), None)
    assert again.pipeline.window == WindowOptions(32)
    hits = again.search(QUERY).first_stage
    assert again.pipeline.reranker_texts(QUERY, hits) == windowed.pipeline.reranker_texts(QUERY, hits)
    assert "window" not in pipeline_file(opened).to_json()  # a file without one looks as it did
    broken = json.loads(path.read_text())
    broken["window"] = {"max_tokens": 4, "stride": 0}
    path.write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match="window.max_tokens"):
        read_pipeline_file(path)

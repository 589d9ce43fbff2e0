"""The service: a pipeline file exported, served over real HTTP on 127.0.0.1, and asked by an HTTP client. It ranks
as the explorer does; a failing or slow reranker gives the first-stage order marked as a fallback, with the reason
logged; a full service answers 503; bad input gets a 4xx, never a 500."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from explorer.errors import ConfigError
from explorer.export.pipeline_file import Threshold, pipeline_file, read_pipeline_file, write_pipeline_file
from explorer.serving.batching import MicroBatcher
from explorer.serving.http_app import create_app, lone_surrogate, nesting_depth
from explorer.serving.limits import ServiceLimits, measured_budget_ms
from explorer.serving.service import RerankService, model_scores
from explorer.serving.startup import open_service, settle_budget
from explorer.settings import SAMPLE_DATA
from explorer.spec import Blend, DirectParts, PipelineSpec, open_pipeline
from tests.browser_support import free_port
from tests.serve_support import http_server, run_coroutine

ROOT = Path(__file__).resolve().parent.parent
DEPTH = 10


@pytest.fixture(scope="module")
def explorer_side(settings):
    """The pipeline as the explorer opens it (no score cache: every pair scored)."""
    return open_pipeline(PipelineSpec(depth=DEPTH, blend=Blend("card")), DirectParts(settings), None)


@pytest.fixture(scope="module")
def pipeline_path(explorer_side, tmp_path_factory):
    return write_pipeline_file(pipeline_file(explorer_side), tmp_path_factory.mktemp("serve") / "pipeline.json")


@pytest.fixture(scope="module")
def service(pipeline_path, settings):
    """The service as ``serve`` starts it: from the file alone, models loaded afresh."""
    started = open_service(pipeline_path, settings)
    yield started
    started.close()


@pytest.fixture(scope="module")
def url(service):
    with http_server(create_app(service)) as base:
        yield base


def test_the_service_ranks_twenty_sample_queries_as_the_explorer_does(explorer_side, service, url, sample):
    queries = [query.text for query in list(sample.queries.values())[:20]]
    assert len(queries) == 20
    with httpx.Client(base_url=url, timeout=120) as client:
        for number, query in enumerate(queries):
            for _ in range(3):  # a search past its budget on a machine busy with other work: asked again
                answer = client.post("/v1/search", json={"query": query})
                assert answer.status_code == 200, answer.text
                body = answer.json()
                if not body["fallback"]:
                    break
            expected = explorer_side.search(query).reranked
            assert body["fallback"] is False, body.get("fallback_reason", body)
            assert [hit["id"] for hit in body["results"]] == [hit.doc_id for hit in expected]
            assert [hit["relevance_score"] for hit in body["results"]] == pytest.approx(
                [hit.score for hit in expected], abs=1e-4)
            assert [hit["ranking_score"] for hit in body["results"]] == pytest.approx(
                [hit.score if hit.fused_score is None else hit.fused_score for hit in expected], abs=1e-4)
            if number < 3:  # the rerank door: the same candidates' texts give the same raw scores
                candidates = explorer_side.search(query).first_stage
                texts = [explorer_side.pipeline.candidate_text(hit) for hit in candidates]
                reranked = client.post("/v1/rerank", json={"query": query, "documents": texts, "top_n": 4,
                                                           "return_documents": True}).json()
                by_doc = {hit.doc_id: hit.score for hit in expected}
                assert len(reranked["results"]) == 4
                for result in reranked["results"]:
                    assert result["document"]["text"] == texts[result["index"]]
                    assert result["relevance_score"] == pytest.approx(by_doc[candidates[result["index"]].doc_id],
                                                                      abs=1e-4)
                scores = [result["relevance_score"] for result in reranked["results"]]
                assert scores == sorted(scores, reverse=True)
        health = client.get("/health").json()
        metrics = client.get("/metrics").text
    assert health["reranker"] == explorer_side.reranker.info.loaded and health["differences_from_file"] == []
    assert health["budget_source"] == "measured" and health["budget_ms"] >= 5000 and health["measured_search_ms"] > 0
    assert sample_value(metrics, "explorer_requests_total", endpoint="search", outcome="reranked") == 20


def test_the_threshold_in_the_file_drops_what_it_says(explorer_side, settings, tmp_path):
    query = "the vpn drops every few minutes"
    scores = sorted(hit.score for hit in explorer_side.search(query).reranked)
    cut = float(np.median(scores))
    path = write_pipeline_file(pipeline_file(explorer_side, Threshold(cut, "raw")), tmp_path / "p.json")
    service = RerankService(read_pipeline_file(path), explorer_side)
    try:
        answer = service.search(query)
    finally:
        service.close()
    assert answer.dropped_by_threshold == sum(score < cut for score in scores) > 0
    assert all(hit.relevance_score >= cut for hit in answer.results)


def sample_value(metrics: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` in Prometheus text ``metrics`` (None: absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def _fallback_service(explorer_side, pipeline_path, score, **limits) -> RerankService:
    return RerankService(read_pipeline_file(pipeline_path), explorer_side, ServiceLimits(**limits), score=score)


@pytest.mark.parametrize("kind", ["fails", "slower than the budget"])
def test_a_failing_or_slow_reranker_gives_the_first_stage_order_marked_and_logged(kind, explorer_side, pipeline_path,
                                                                                caplog):
    real = model_scores(explorer_side.reranker)

    def failing(pairs):
        raise RuntimeError("the reranker's device went away")

    def slow(pairs):
        time.sleep(3.0)
        return real(pairs)

    service = _fallback_service(explorer_side, pipeline_path, failing if kind == "fails" else slow, budget_ms=1000)
    query = "how do I reset my password"
    try:
        with http_server(create_app(service)) as base, caplog.at_level(logging.INFO, logger="explorer.serving"):
            searched = httpx.post(f"{base}/v1/search", json={"query": query}, timeout=60).json()
            documents = ["first text", "second text", "third text"]
            reranked = httpx.post(f"{base}/v1/rerank", json={"query": query, "documents": documents},
                                  timeout=60).json()
            metrics = httpx.get(f"{base}/metrics").text
    finally:
        service.close()
    first_stage = explorer_side.search(query).first_stage
    assert searched["fallback"] is True and reranked["fallback"] is True
    assert [hit["id"] for hit in searched["results"]] == [hit.doc_id for hit in first_stage]
    assert all(hit["relevance_score"] is None for hit in searched["results"])
    assert [result["index"] for result in reranked["results"]] == [0, 1, 2]
    reason = "device went away" if kind == "fails" else "did not answer within the 1000 ms budget"
    assert reason in searched["fallback_reason"]
    logged = [json.loads(record.getMessage()) for record in caplog.records if record.name == "explorer.serving"]
    assert [line["event"] for line in logged if line["fallback"]] == ["search", "rerank"]
    assert all(reason in line["reason"] and "reranking" in line["timings_ms"] for line in logged)
    cause = "failure" if kind == "fails" else "budget"
    assert sample_value(metrics, "explorer_fallbacks_total", endpoint="search", cause=cause) == 1.0


def test_a_full_service_answers_503_with_retry_after(explorer_side, pipeline_path):
    real = model_scores(explorer_side.reranker)

    def slow(pairs):
        time.sleep(1.0)
        return real(pairs)

    service = _fallback_service(explorer_side, pipeline_path, slow, max_pending=1, budget_ms=20_000, retry_after_s=2)
    statuses: list[tuple[int, str | None]] = []

    def ask(base: str) -> None:
        answer = httpx.post(f"{base}/v1/rerank", json={"query": "vpn", "documents": ["a vpn", "a printer"]},
                            timeout=60)
        statuses.append((answer.status_code, answer.headers.get("retry-after")))

    try:
        with http_server(create_app(service)) as base:
            askers = [threading.Thread(target=ask, args=(base,)) for _ in range(4)]
            for asker in askers:
                asker.start()
                time.sleep(0.05)
            for asker in askers:
                asker.join()
            metrics = httpx.get(f"{base}/metrics").text
    finally:
        service.close()
    assert (200, None) in statuses and (503, "2") in statuses
    assert {status for status, _ in statuses} == {200, 503}
    refused = sum(status == 503 for status, _ in statuses)
    assert sample_value(metrics, "explorer_refused_total") == refused


BAD = [
    ("empty query", {"query": "  ", "documents": ["a"]}, 400, "query is empty"),
    ("no documents", {"query": "vpn", "documents": []}, 400, "at least one"),
    ("100,000 documents", {"query": "vpn", "documents": ["a"] * 100_000}, 400, "at most 1,000"),
    ("a number as a document", {"query": "vpn", "documents": ["a", 7]}, 400, "documents.1: should be a string"),
    ("a list as the query", {"query": ["vpn"], "documents": ["a"]}, 400, "query: Input should be a valid string"),
    ("top_n as text", {"query": "vpn", "documents": ["a"], "top_n": "3"}, 400, "top_n"),
    ("top_n zero", {"query": "vpn", "documents": ["a"], "top_n": 0}, 400, "top_n must be between"),
    ("no query", {"documents": ["a"]}, 400, "query: Field required"),
    ("a document too long", {"query": "vpn", "documents": ["word " * 5000]}, 400, "Document 0 has 25,000"),
]


@pytest.mark.parametrize("case, body, status, message", BAD, ids=[case[0] for case in BAD])
def test_bad_input_gets_a_4xx_that_says_what_is_wrong(case, body, status, message, url):
    answer = httpx.post(f"{url}/v1/rerank", json=body, timeout=60)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


@pytest.mark.parametrize("content, status, message", [
    (b"\xff\xfe{\x00}\x00", 400, "not UTF-8"),
    (b'{"query": "vpn", "documents": ["a"', 400, "not JSON"),
    (b"", 400, "body is empty"),
    (b'["vpn"]', 400, "must be a JSON object"),
    (b"x" * 9_000_000, 413, "at most 8,000,000"),
])
def test_bodies_that_are_not_json_objects_or_too_large_get_a_4xx(content, status, message, url):
    for path in ("/v1/rerank", "/v1/search"):
        answer = httpx.post(f"{url}{path}", content=content, headers={"content-type": "application/json"},
                            timeout=60)
        assert answer.status_code == status and message in answer.json()["error"]


def test_the_search_door_refuses_an_empty_query_and_metrics_count_refusals(url):
    answer = httpx.post(f"{url}/v1/search", json={"query": ""}, timeout=60)
    assert answer.status_code == 400 and "query is empty" in answer.json()["error"]
    assert sample_value(httpx.get(f"{url}/metrics").text, "explorer_bad_requests_total", status="400") >= 1


def test_requests_waiting_together_share_one_model_call_and_get_their_own_scores():
    calls: list[int] = []

    def score(pairs):
        calls.append(len(pairs))
        time.sleep(0.2)
        return np.array([len(query) * 100 + len(text) for query, text in pairs], dtype=np.float32)

    for batching, most_calls in ((True, 4), (False, 8)):
        calls.clear()
        batcher = MicroBatcher(score, queue_size=16, wait_s=0.05, batching=batching)
        futures = [batcher.submit([("q" * n, "d" * k) for k in range(1, n + 1)], time.monotonic() + 30)
                   for n in range(1, 9)]
        results = [future.result(timeout=30) for future in futures]
        batcher.close()
        for n, result in enumerate(results, start=1):
            assert result.tolist() == [n * 100 + k for k in range(1, n + 1)]
        assert sum(calls) == sum(range(1, 9))
        assert len(calls) <= most_calls if batching else len(calls) == most_calls


def test_serve_refuses_a_damaged_pipeline_file_before_loading_anything(tmp_path, pipeline_path):
    content = json.loads(pipeline_path.read_text())
    del content["reranker"]
    content["depth"] = "ten"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(content))
    for path, says in ((bad, ["is not valid", "depth: 'ten' is not of type 'integer'", "'reranker' is a required"]),
                       (tmp_path / "missing.json", ["Cannot read the pipeline file"])):
        done = subprocess.run([sys.executable, "-m", "explorer", "serve", "--pipeline", str(path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert all(text in done.stderr for text in says), done.stderr


def test_the_serve_command_answers_over_http_and_logs_json_lines(pipeline_path, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--pipeline", str(pipeline_path),
                                   "--port", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 240
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "serve did not start: " + log.read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        answer = httpx.post(f"{base}/v1/rerank", json={"query": "printer out of toner",
                                                        "documents": ["vpn drops", "replace the toner cartridge"]},
                            timeout=60).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [result["index"] for result in answer["results"]] == [1, 0] and answer["fallback"] is False
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "rerank"]
    assert requests and requests[-1]["documents"] == 2 and requests[-1]["timings_ms"]["reranking"] > 0


def test_the_explorer_ranks_through_the_service_as_a_remote_reranker_as_it_does_locally(explorer_side, url,
                                                                                        settings, sample):
    from explorer.models.resolution import load_reranker

    remote = load_reranker(f"rerank-api:{url}", explorer_side.reranker.device, settings)
    assert remote.info.source == "remote"
    through_service = explorer_side.pipeline.with_reranker(remote).uncached()
    for query in [query.text for query in list(sample.queries.values())[20:25]]:
        local = explorer_side.search(query).reranked
        served = through_service.search(query, depth=DEPTH, blend=explorer_side.blend).reranked
        assert [hit.doc_id for hit in served] == [hit.doc_id for hit in local]
        assert [hit.score for hit in served] == pytest.approx([hit.score for hit in local], abs=1e-4)


def test_the_load_driver_counts_every_answer_the_service_gave(url):
    from explorer.bench.serve_load import LoadConfig, drive, load_run, request_bodies

    config = LoadConfig(clients=3, seconds=2, documents=3)
    bodies = request_bodies(str(SAMPLE_DATA), config)
    assert all(len(body["documents"]) == 3 for body in bodies)
    before = sample_value(httpx.get(f"{url}/metrics").text, "explorer_requests_total", endpoint="rerank",
                          outcome="reranked") or 0
    answers, memory, seconds = run_coroutine(drive(url, bodies, config, lambda: 1.0))
    run = load_run("micro-batching", answers, memory, seconds, model_calls=0)
    after = sample_value(httpx.get(f"{url}/metrics").text, "explorer_requests_total", endpoint="rerank",
                         outcome="reranked")
    assert run.statuses == {"200": run.requests} and run.requests >= 3 and run.errors == 0
    assert after - before == run.requests and run.pairs == 3 * run.requests
    assert 0 < run.percentile_ms(0.5) <= run.percentile_ms(0.95) and seconds >= 2
    with pytest.raises(ConfigError, match="this machine only"):
        run_coroutine(drive("http://example.org:80", bodies, config))


def test_a_calibrated_probability_threshold_keeps_in_the_service_what_the_file_says(explorer_side, tmp_path):
    from explorer.evaluation.score_calibration import Calibration

    query = "my laptop cannot connect to the office wifi"
    raw = np.array([hit.score for hit in explorer_side.search(query).reranked], dtype=np.float32)
    middle = float(np.median(raw))
    calibration = Calibration("platt", "train", pairs=100, reranker=explorer_side.reranker.info.loaded, slope=1.0,
                              intercept=-middle)  # p = 0.5 at the median score
    exported = pipeline_file(explorer_side, Threshold(0.5, "probability"), calibration=calibration)
    service = RerankService(read_pipeline_file(write_pipeline_file(exported, tmp_path / "p.json")), explorer_side)
    try:
        searched = service.search(query)
        reranked = service.rerank(query, ["wifi will not connect on my laptop", "order a new badge"])
    finally:
        service.close()
    expected = 1 / (1 + np.exp(-(raw.astype(np.float64) - middle)))
    assert searched.dropped_by_threshold == int((expected < 0.5).sum()) > 0
    assert all(hit.probability >= 0.5 for hit in searched.results)
    assert sorted(hit.probability for hit in searched.results) == pytest.approx(
        sorted(p for p in expected if p >= 0.5), abs=1e-4)
    for result in reranked.results:
        assert result.probability == pytest.approx(1 / (1 + np.exp(-(result.relevance_score - middle))), abs=1e-5)
        assert result.above_threshold == (result.probability >= 0.5)


def test_the_start_warns_when_a_search_costs_more_than_the_budget(pipeline_path, settings, caplog):
    with caplog.at_level(logging.WARNING, logger="explorer.serving"):
        started = open_service(pipeline_path, settings, ServiceLimits(budget_ms=1))
    started.close()
    warnings = [json.loads(record.getMessage()) for record in caplog.records if record.name == "explorer.serving"]
    assert any("over the 1 ms budget" in line.get("warning", "") for line in warnings)
    assert started.budget.ms == 1 and started.budget.source == "given"


DEEP = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize("path, content", [
    ("/v1/rerank", b'{"query": "vpn", "documents": ["a"], "extra": ' + DEEP + b"}"),
    ("/v2/rerank", b'{"model": "m", "query": "vpn", "documents": ' + DEEP + b"}"),
    ("/v1/search", b'{"query": "vpn", "top_n": ' + DEEP + b"}"),
    ("/v1/search", b'{"a":' * 5000 + b"1" + b"}" * 5000),
])
def test_a_body_nested_too_deep_gets_a_400_that_says_so(path, content, url):
    answer = httpx.post(f"{url}{path}", content=content, headers={"content-type": "application/json"}, timeout=60)
    assert answer.status_code == 400, answer.text
    assert "levels deep; at most 32 are accepted" in answer.json()["error"]


def test_brackets_inside_strings_do_not_count_as_nesting(url):
    body = {"query": "[[[[ vpn {{{{" * 20, "documents": ["]]]] " * 50, '\\"[[[[[' * 40]}
    answer = httpx.post(f"{url}/v1/rerank", json=body, timeout=60)
    assert answer.status_code == 200 and answer.json()["fallback"] is False, answer.text


@pytest.mark.parametrize("text, depth", [
    (b'{"query": "vpn", "documents": ["a", {"text": "b"}]}', 3),
    (b'{"a": [1, [2]], "b": "[[[["}', 3),
    (b'"]]]]"', 0),
    (b"[]", 1),
    (b'{"a": "\\"[", "b": {}}', 2),  # an escaped quote does not end the string
    (b'{"\xc3\xa9[": "\xe2\x80\x9c{"}', 1),  # UTF-8 characters around the brackets
    (b"7", 0),
])
def test_nesting_depth_counts_arrays_and_objects_outside_strings(text, depth):
    assert nesting_depth(text) == depth


@pytest.mark.parametrize("path, content, place", [
    ("/v1/rerank", b'{"query": "vpn \\ud800", "documents": ["a"]}', "query"),
    ("/v1/rerank", b'{"query": "vpn", "documents": ["a", "b \\udfff c"]}', "documents.1"),
    ("/v1/rerank", b'{"query": "vpn", "documents": ["a", {"text": "\\ud83d"}]}', "documents.1.text"),
    ("/v2/rerank", b'{"model": "m", "query": "\\ud800", "documents": ["a"]}', "query"),
    ("/v1/search", b'{"query": "\\ud800"}', "query"),
    ("/v1/search", b'{"query": "vpn", "\\udc00": 1}', "body (a key)"),
])
def test_a_lone_surrogate_gets_a_400_naming_where_it_is(path, content, place, url):
    answer = httpx.post(f"{url}{path}", content=content, headers={"content-type": "application/json"}, timeout=60)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(f"{place}: holds a lone surrogate")


def test_a_surrogate_pair_and_an_escaped_backslash_before_u_are_valid_text(url):
    for query in (b'"vpn \\ud83d\\ude00 drops"', b'"vpn \\\\ud800 drops"'):  # an emoji; a backslash, then "ud800"
        for path, content in (("/v1/search", b'{"query": ' + query + b', "top_n": 2}'),
                              ("/v1/rerank", b'{"query": ' + query + b', "documents": ["vpn drops"]}')):
            answer = httpx.post(f"{url}{path}", content=content, headers={"content-type": "application/json"},
                                timeout=60)
            assert answer.status_code == 200 and answer.json()["fallback"] is False, answer.text
    assert lone_surrogate({"query": "vpn \U0001f600", "documents": ["a", {"text": "b"}]}) is None
    assert lone_surrogate(["a", ["b", "\udbff"]]) == ("1.1", 0xDBFF)


@pytest.mark.parametrize("search_ms, budget_ms", [(0.0, 5000), (100.0, 5000), (1700.01, 5200), (5600.0, 16800)])
def test_a_measured_budget_is_three_searches_rounded_up_and_at_least_the_default(search_ms, budget_ms):
    assert measured_budget_ms(search_ms) == budget_ms


def test_without_a_budget_the_start_sets_it_from_the_measured_search(explorer_side, pipeline_path, caplog):
    real = model_scores(explorer_side.reranker)

    def slow(pairs):  # a pipeline whose search costs 2 s here: three of them exceed the 5,000 ms default
        time.sleep(2.0)
        return real(pairs)

    service = _fallback_service(explorer_side, pipeline_path, slow)
    assert service.budget.ms == 5000 and service.budget.source == "default"
    try:
        with caplog.at_level(logging.INFO, logger="explorer.serving"):
            took_ms = settle_budget(service, "how do I reset my password")
        health = service.health()
        searched = service.search("the vpn drops every few minutes")
    finally:
        service.close()
    assert took_ms >= 2000
    assert service.budget.ms == measured_budget_ms(took_ms) > 6000 and service.budget.source == "measured"
    assert health["budget_ms"] == service.budget.ms and health["budget_source"] == "measured"
    assert health["measured_search_ms"] == pytest.approx(took_ms, abs=0.1)
    logged = [json.loads(record.getMessage()) for record in caplog.records if record.name == "explorer.serving"]
    assert [line["budget_source"] for line in logged if "budget_source" in line] == ["measured"]
    assert "from a search through both stages measured at start" in logged[-1]["budget"]
    assert not any("warning" in line for line in logged)
    assert searched.fallback is False


def test_a_budget_given_is_kept_whatever_the_start_measures(explorer_side, pipeline_path):
    service = _fallback_service(explorer_side, pipeline_path, model_scores(explorer_side.reranker), budget_ms=750)
    try:
        settle_budget(service, "how do I reset my password")
    finally:
        service.close()
    assert service.budget.ms == 750 and service.budget.source == "given"
    assert service.health()["budget_source"] == "given" and service.health()["measured_search_ms"] > 0


def test_serve_leaves_the_budget_to_the_measurement_unless_given():
    from explorer.cli.arguments import build_parser

    parser = build_parser()
    assert parser.parse_args(["serve", "--pipeline", "p.json"]).budget_ms is None
    assert parser.parse_args(["serve", "--pipeline", "p.json", "--budget-ms", "800"]).budget_ms == 800


# The cascade: the short trained run (another model than the default reranker) reads every candidate, the default
# reranker its best CASCADE_KEEP; blended at 0.5, so the small reranker's ranking follows the blend rule too.
CASCADE_KEEP = 4


@pytest.fixture(scope="module")
def cascade_side(settings, trained_folder):
    """The cascade pipeline as the explorer opens it (no score cache)."""
    from explorer.rerank.cascade import CascadeSpec

    spec = PipelineSpec(depth=DEPTH, blend=Blend("custom", 0.5), cascade=CascadeSpec(str(trained_folder),
                                                                                       CASCADE_KEEP))
    return open_pipeline(spec, DirectParts(settings), None)


@pytest.fixture(scope="module")
def cascade_path(cascade_side, tmp_path_factory):
    return write_pipeline_file(pipeline_file(cascade_side), tmp_path_factory.mktemp("cascade") / "pipeline.json")


@pytest.fixture(scope="module")
def cascade_url(cascade_path, settings):
    """``serve`` of the cascade's pipeline file: from the file alone, both rerankers loaded afresh."""
    service = open_service(cascade_path, settings)
    try:
        with http_server(create_app(service)) as base:
            yield base
    finally:
        service.close()


def _reranked_search(client: httpx.Client, query: str) -> dict:
    """/v1/search's answer, asked again when a machine busy with other work made it a fallback."""
    for _ in range(3):
        answer = client.post("/v1/search", json={"query": query})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if not body["fallback"]:
            break
    assert body["fallback"] is False, body.get("fallback_reason", body)
    return body


def test_the_service_runs_the_files_cascade_as_the_search_pipeline_does(cascade_side, cascade_url, sample):
    small, keep = cascade_side.pipeline.cascade
    assert keep == CASCADE_KEEP and small.info.loaded != cascade_side.reranker.info.loaded
    queries = [query.text for query in list(sample.queries.values())[:6]]
    unlike_plain = 0
    with httpx.Client(base_url=cascade_url, timeout=120) as client:
        for query in queries:
            body = _reranked_search(client, query)
            expected = cascade_side.pipeline.search(query, depth=DEPTH, blend=cascade_side.blend).reranked
            assert [hit["id"] for hit in body["results"]] == [hit.doc_id for hit in expected]
            assert [hit["scored_by"] for hit in body["results"]] == [hit.scored_by for hit in expected] == \
                ["main"] * CASCADE_KEEP + ["small"] * (DEPTH - CASCADE_KEEP)
            assert [hit["relevance_score"] for hit in body["results"]] == pytest.approx(
                [hit.score for hit in expected], abs=1e-4)
            assert [hit["ranking_score"] for hit in body["results"]] == pytest.approx(
                [hit.score if hit.fused_score is None else hit.fused_score for hit in expected], abs=1e-4)
            assert {"small reranking", "main reranking", "reranking"} <= set(body["timings_ms"])
            plain = cascade_side.pipeline.with_cascade(None).search(query, depth=DEPTH, blend=cascade_side.blend)
            unlike_plain += [hit.doc_id for hit in plain.reranked] != [hit.doc_id for hit in expected]
        health = client.get("/health").json()
        metrics = client.get("/metrics").text
    assert unlike_plain > 0  # the cascade ranks otherwise than the reranker alone, so the comparison tells them apart
    assert health["cascade"]["small_reranker"] == small.info.loaded and health["cascade"]["keep"] == CASCADE_KEEP
    assert health["cascade"]["small_model_calls"] >= len(queries) and health["differences_from_file"] == []
    assert sample_value(metrics, "explorer_small_model_call_pairs") >= DEPTH * len(queries)


def test_the_rerank_door_with_a_cascade_ranks_as_cascade_order_says(cascade_side, cascade_url, sample):
    from explorer.rerank.cascade import cascade_order, cascade_scores, scores_by_position
    from explorer.rerank.scoring import order_by_score, score_pairs

    small, keep = cascade_side.pipeline.cascade
    unlike_plain = 0
    with httpx.Client(base_url=cascade_url, timeout=120) as client:
        for query in [query.text for query in list(sample.queries.values())[:3]]:
            candidates = cascade_side.search(query).first_stage
            texts = [cascade_side.pipeline.candidate_text(hit) for hit in candidates]
            scores = cascade_scores(small, cascade_side.reranker, query, texts, keep, [0.0] * len(texts), 1.0)
            order = cascade_order(scores.ranking, scores.main_positions, order_by_score(scores.main.raw.tolist()))
            values, scored_by = scores_by_position(scores)
            answer = client.post("/v1/rerank", json={"query": query, "documents": texts}).json()
            assert answer["fallback"] is False, answer.get("fallback_reason")
            assert [result["index"] for result in answer["results"]] == order
            assert [result["scored_by"] for result in answer["results"]] == [scored_by[i] for i in order]
            assert [result["relevance_score"] for result in answer["results"]] == pytest.approx(
                [float(values[i]) for i in order], abs=1e-4)
            top = client.post("/v1/rerank", json={"query": query, "documents": texts, "top_n": 2}).json()
            assert [result["index"] for result in top["results"]] == order[:2]
            plain = order_by_score(score_pairs(cascade_side.reranker, query, texts).raw.tolist())
            unlike_plain += plain != order
    assert unlike_plain > 0


def test_a_threshold_with_a_cascade_keeps_only_what_the_reranker_scored(cascade_side, tmp_path):
    query = "the vpn drops every few minutes"
    reranked = cascade_side.search(query).reranked
    # every score passes it as a number, the small reranker's too
    path = write_pipeline_file(pipeline_file(cascade_side, Threshold(-1e6, "raw")), tmp_path / "cut.json")
    service = RerankService(read_pipeline_file(path), cascade_side)
    try:
        searched = service.search(query)
        given = service.rerank(query, ["reset the vpn client", "replace the toner", "the vpn drops", "a printer",
                                       "wifi keeps dropping", "vpn"])
    finally:
        service.close()
    assert not searched.fallback and searched.dropped_by_threshold == DEPTH - CASCADE_KEEP
    assert [hit.doc_id for hit in searched.results] == [hit.doc_id for hit in reranked[:CASCADE_KEEP]]
    assert {hit.scored_by for hit in searched.results} == {"main"}
    assert [(result.scored_by, result.above_threshold) for result in given.results] == \
        [("main", True)] * CASCADE_KEEP + [("small", False)] * 2


@pytest.mark.parametrize("failing", ["small", "main"])
def test_a_failing_model_of_the_cascade_gives_the_first_stage_order_naming_which(failing, cascade_side, cascade_path,
                                                                                caplog):
    def fails(pairs):
        raise RuntimeError("the device went away")

    small, _ = cascade_side.pipeline.cascade
    scores = {"small_score": fails, "score": model_scores(cascade_side.reranker)} if failing == "small" else \
        {"small_score": model_scores(small), "score": fails}
    service = RerankService(read_pipeline_file(cascade_path), cascade_side, ServiceLimits(budget_ms=20_000), **scores)
    query = "how do I reset my password"
    try:
        with caplog.at_level(logging.INFO, logger="explorer.serving"):
            searched = service.search(query)
            given = service.rerank(query, ["first text", "second text", "third text"])
    finally:
        service.close()
    who = "the small reranker" if failing == "small" else "the reranker"
    assert searched.fallback and given.fallback and searched.cause == given.cause == "failure"
    assert searched.reason.startswith(f"{who} failed: RuntimeError: the device went away")
    assert [hit.doc_id for hit in searched.results] == [hit.doc_id for hit in cascade_side.search(query).first_stage]
    assert [result.index for result in given.results] == [0, 1, 2]
    logged = [json.loads(record.getMessage()) for record in caplog.records if record.name == "explorer.serving"]
    assert [line["event"] for line in logged if line["fallback"]] == ["search", "rerank"]
    assert all("small reranking" in line["timings_ms"] for line in logged)
    assert all(("main reranking" in line["timings_ms"]) == (failing == "main") for line in logged)

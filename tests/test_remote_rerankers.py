"""Remote rerankers (explorer.remote) against local stubs of each vendor's documented rerank API: real HTTP on
127.0.0.1, since this machine reaches no vendor. Each stub checks the bearer key and the request's fields and answers
in its vendor's shape with a word-overlap score, so the order the explorer shows can be worked out here."""

from __future__ import annotations

import json
import logging
import pickle
import re
import socket
import threading
import time
import uuid
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from explorer.errors import AttentionUnavailableError, ConfigError, RemoteServiceError
from explorer.remote.client import RetryPolicy, Secret, Timeouts
from explorer.remote.formats import FORMATS
from explorer.remote.loading import load_remote_reranker
from explorer.remote.names import check_remote_allowed, is_remote_name, key_status, parse_remote_name
from explorer.remote.prices import default_price_table, estimate_price, price_table, read_price_table
from explorer.rerank.scoring import model_key, order_by_score, score_pairs
from tests.cache_support import cache_sharing_models

KEY = "sk-LEAKCHECK-7f3a9c1e5b"  # recognisable, so any leak is found by a plain substring search
OTHER_KEY = "rk-SERVICEKEY-42d8"
FAST = RetryPolicy(retries=2, first_wait_s=0.05, longest_wait_s=2.0, total_wait_s=5.0)

PATHS = {"cohere": "/v2/rerank", "voyage": "/v1/rerank", "jina": "/v1/rerank", "rerank-api": "/v1/rerank"}
# the fields each API documents (those a request may carry) and those it needs
ALLOWED = {"cohere": {"model", "query", "documents", "top_n", "max_tokens_per_doc"},
           "voyage": {"query", "documents", "model", "top_k", "return_documents", "truncation"},
           "jina": {"model", "query", "documents", "top_n", "return_documents"},
           "rerank-api": {"query", "documents", "top_n", "return_documents"}}
REQUIRED = {"cohere": {"model", "query", "documents"}, "voyage": {"query", "documents", "model"},
            "jina": {"model", "query", "documents"}, "rerank-api": {"query", "documents"}}
MODELS = {"cohere": "rerank-v3.5", "voyage": "rerank-2.5", "jina": "jina-reranker-v2-base-multilingual"}


def overlap_score(query: str, document: str) -> float:
    """The stubs' relevance: query words found in the document, plus a small tie-break favouring short ones."""
    words = re.findall(r"\w+", document.lower())
    return len(set(re.findall(r"\w+", query.lower())) & set(words)) + 1.0 / (2 + len(words))


class Stub:
    """A rerank API on 127.0.0.1 speaking one vendor's format. ``planned`` answers go out first (status, headers,
    body), ``always`` answers every request; ``delay_s`` makes it slow; ``tamper`` changes a good answer."""

    def __init__(self, vendor: str, key: str | None) -> None:
        self.vendor, self.key = vendor, key
        self.requests: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.planned: list[tuple[int, dict[str, str], Any]] = []
        self.always: tuple[int, dict[str, str], Any] | None = None
        self.delay_s = 0.0
        self.tamper = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                # the answer is chosen as the request arrives: a slow answer that a timed-out client left behind
                # must not take the answer planned for the next test's request once its wait is over
                status, headers, answer = stub.answer(self.path, self.headers.get("Authorization"), body)
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        self.requests.clear()
        self.problems.clear()
        self.planned.clear()
        self.always, self.delay_s, self.tamper = None, 0.0, None

    def error(self, status: int, text: str) -> tuple[int, dict[str, str], Any]:
        return status, {}, ({"message": text} if self.vendor == "cohere" else {"detail": text})

    def answer(self, path: str, authorization: str | None, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if self.planned:
            return self.planned.pop(0)
        if self.always is not None:
            return self.always
        if path != PATHS[self.vendor]:
            return self.error(404, f"no route {path}")
        if self.key is not None and authorization != f"Bearer {self.key}":
            return self.error(401, "invalid api token")
        fields = set(body)
        if not REQUIRED[self.vendor] <= fields or not fields <= ALLOWED[self.vendor]:
            self.problems.append(f"fields {sorted(fields)}")
            return self.error(400, f"bad fields {sorted(fields)}")
        documents, query = body["documents"], body["query"]
        if not all(isinstance(d, str) for d in documents) or not isinstance(query, str):
            self.problems.append("documents or query not strings")
            return self.error(400, "documents must be strings")
        top = body.get("top_k" if self.vendor == "voyage" else "top_n", len(documents))
        if top != len(documents):
            self.problems.append(f"asked for {top} of {len(documents)}")
        ranked = sorted(({"index": i, "relevance_score": overlap_score(query, d)} for i, d in enumerate(documents)),
                        key=lambda r: -r["relevance_score"])[:top]
        if self.vendor == "cohere":
            answer = {"id": str(uuid.uuid4()), "results": ranked,
                      "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}}
        elif self.vendor == "voyage":
            answer = {"object": "list", "data": ranked, "model": body["model"], "usage": {"total_tokens": 100}}
        elif self.vendor == "jina":
            answer = {"model": body["model"], "usage": {"total_tokens": 100},
                      "results": [{**r, "document": {"text": documents[r["index"]]}} if body.get("return_documents")
                                  else r for r in ranked]}
        else:  # this project's own service's shape
            answer = {"id": str(uuid.uuid4()), "model": "stub-cross-encoder", "fallback": False,
                      "results": [{**r, "probability": None} for r in ranked]}
        if self.tamper is not None:
            answer = self.tamper(answer)
        return 200, {}, answer


@pytest.fixture(scope="module")
def stubs():
    made = {"cohere": Stub("cohere", KEY), "voyage": Stub("voyage", KEY), "jina": Stub("jina", KEY),
            "rerank-api": Stub("rerank-api", OTHER_KEY)}
    yield made
    for stub in made.values():
        stub.server.shutdown()
        stub.server.server_close()


@pytest.fixture()
def remote_settings(settings, stubs, tmp_path):
    """Settings whose vendor base URLs are the stubs, with the fake keys; a fresh cache folder."""
    for stub in stubs.values():
        stub.reset()
    return replace(settings, cache_dir=cache_sharing_models(tmp_path / "cache"), cohere_url=stubs["cohere"].url,
                   voyage_url=stubs["voyage"].url, jina_url=stubs["jina"].url, cohere_api_key=KEY,
                   voyage_api_key=KEY, jina_api_key=KEY, rerank_api_key=OTHER_KEY, remote_timeout_s=5.0, remote_retries=2)


def name_for(vendor: str, stubs: dict[str, Stub]) -> str:
    return f"rerank-api:{stubs['rerank-api'].url}" if vendor == "rerank-api" else f"{vendor}:{MODELS[vendor]}"


def load(vendor: str, stubs, settings, **options):
    return load_remote_reranker(name_for(vendor, stubs), _cpu(), settings, **{"policy": FAST, **options})


def _cpu():
    from explorer.inference.device import DeviceChoice

    return DeviceChoice("cpu", "fp32", "tests")


@pytest.fixture(scope="module")
def sample_texts(sample):
    return [doc.full_text for doc in sample.documents[:40]]


@pytest.fixture(scope="module")
def first_stage_pipeline(sample, bi_encoder, embedding_cache):
    """The sample corpus indexed with the session's bi-encoder (embeddings shared with the rest of the suite)."""
    from explorer.pipeline import RetrievalPipeline

    return RetrievalPipeline.build(sample, bi_encoder, None, embedding_cache)


# --- each vendor's format -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("vendor", ["cohere", "voyage", "jina", "rerank-api"])
def test_each_format_scores_every_document_in_request_order(vendor, stubs, remote_settings, sample_texts):
    reranker = load(vendor, stubs, remote_settings)
    query = "vpn disconnects every few minutes on the office network"
    scores = score_pairs(reranker, query, sample_texts)
    assert scores.raw.tolist() == pytest.approx([overlap_score(query, t) for t in sample_texts], rel=1e-6)
    assert scores.truncated == 0 and scores.probability is None
    stub = stubs[vendor]
    assert len(stub.requests) == 1 and not stub.problems
    sent = stub.requests[0]
    assert sent["path"] == PATHS[vendor]
    assert sent["headers"]["Authorization"] == f"Bearer {OTHER_KEY if vendor == 'rerank-api' else KEY}"
    assert sent["body"]["query"] == query and sent["body"]["documents"] == sample_texts
    if vendor != "rerank-api":
        assert sent["body"]["model"] == MODELS[vendor]
    assert reranker.info.source == "remote" and not reranker.info.has_probability
    assert reranker.engine.info().label.startswith("remote · ")


def test_pairs_of_several_queries_are_one_request_per_query(stubs, remote_settings, sample_texts):
    reranker = load("voyage", stubs, remote_settings)
    pairs = [("disk full", sample_texts[0]), ("vpn", sample_texts[1]), ("disk full", sample_texts[2])]
    output = reranker.engine.run(pairs, "scores")
    assert output.values.tolist() == pytest.approx([overlap_score(q, t) for q, t in pairs], rel=1e-6)
    assert [r["body"]["query"] for r in stubs["voyage"].requests] == ["disk full", "vpn"]
    assert not output.truncated.any()


def test_documents_past_the_limit_go_in_several_requests(stubs, remote_settings, sample_texts):
    reranker = load("cohere", stubs, remote_settings)
    reranker.engine.format = replace(FORMATS["cohere"], documents_limit=15)
    scores = score_pairs(reranker, "certificate renewal", sample_texts)
    assert [len(r["body"]["documents"]) for r in stubs["cohere"].requests] == [15, 15, 10]
    assert scores.raw.tolist() == pytest.approx([overlap_score("certificate renewal", t) for t in sample_texts],
                                                rel=1e-6)


@pytest.mark.parametrize("tamper, says", [
    (lambda a: {**a, "results": a["results"][:-1]}, "answered for 39 of the 40 documents"),
    (lambda a: {**a, "results": a["results"] + a["results"][:1]}, "answered twice"),
    (lambda a: {**a, "results": [{"index": 99, "relevance_score": 1.0}]}, "index 99"),
    (lambda a: {"id": "x"}, "without a 'results' list"),
])
def test_an_incomplete_answer_is_an_error(tamper, says, stubs, remote_settings, sample_texts):
    reranker = load("cohere", stubs, remote_settings)
    stubs["cohere"].tamper = tamper
    with pytest.raises(RemoteServiceError, match=says):
        score_pairs(reranker, "q", sample_texts)


def test_a_fallback_answer_of_a_rerank_service_is_not_taken_as_reranker_scores(stubs, remote_settings, sample_texts):
    reranker = load("rerank-api", stubs, remote_settings)
    stubs["rerank-api"].tamper = lambda a: {**a, "fallback": True, "fallback_reason": "reranker over its budget"}
    with pytest.raises(RemoteServiceError, match="fallback order .reranker over its budget.*not reranker scores"):
        score_pairs(reranker, "q", sample_texts)


def test_a_rerank_service_gets_its_own_key_never_a_vendors(stubs, remote_settings, sample_texts):
    score_pairs(load("rerank-api", stubs, remote_settings), "q", sample_texts[:3])
    headers = stubs["rerank-api"].requests[0]["headers"]
    assert headers["Authorization"] == f"Bearer {OTHER_KEY}" and KEY not in json.dumps(headers)
    # without RERANK_API_KEY, no Authorization header at all
    no_key = replace(remote_settings, rerank_api_key="")
    stubs["rerank-api"].key = None
    try:
        score_pairs(load("rerank-api", stubs, no_key), "q", sample_texts[:3])
    finally:
        stubs["rerank-api"].key = OTHER_KEY
    assert "Authorization" not in stubs["rerank-api"].requests[-1]["headers"]


# --- the pipeline ------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("vendor", ["cohere", "voyage", "jina", "rerank-api"])
def test_the_pipeline_ranks_the_sample_data_in_the_stubs_order(vendor, stubs, remote_settings, first_stage_pipeline,
                                                               sample):
    pipeline = first_stage_pipeline.with_reranker(load(vendor, stubs, remote_settings))
    query = sample.labelled_queries("test")[0].text
    result = pipeline.search(query, depth=30)
    texts = [pipeline.candidate_text(hit) for hit in result.first_stage]
    expected = [result.first_stage[i].doc_id for i in order_by_score([overlap_score(query, t) for t in texts])]
    assert [hit.doc_id for hit in result.reranked] == expected
    assert result.reranker.source == "remote" and result.reranker_engine.startswith("remote · ")
    assert len(stubs[vendor].requests) == 1


@pytest.mark.slow
def test_open_pipeline_with_a_remote_name_and_its_score_cache(stubs, remote_settings, first_stage_pipeline, sample,
                                                              tmp_path):
    from explorer.models.resolution import load_reranker
    from explorer.rerank.score_cache import persistent_score_cache
    from explorer.spec import PipelineSpec, open_pipeline

    class Parts:
        def indexed(self, spec, progress):
            return first_stage_pipeline

        def reranker(self, name, device, trust_remote_code):
            return load_reranker(name, _cpu(), remote_settings)

    cache = persistent_score_cache(tmp_path)
    spec = PipelineSpec(reranker="voyage:rerank-2.5", depth=20, first_stage_method="bm25")
    opened = open_pipeline(spec, Parts(), cache)
    query = sample.labelled_queries("test")[1].text
    first = opened.search(query)
    again = opened.search(query)
    assert [h.doc_id for h in first.reranked] == [h.doc_id for h in again.reranked]
    assert len(stubs["voyage"].requests) == 1  # the repeat came from the score cache
    texts = [opened.pipeline.candidate_text(h) for h in first.first_stage]
    assert [first.first_stage[i].doc_id for i in order_by_score([overlap_score(query, t) for t in texts])] == \
        [h.doc_id for h in first.reranked]
    from explorer.export.pipeline_file import pipeline_file, read_pipeline_file, write_pipeline_file

    exported = write_pipeline_file(pipeline_file(opened), tmp_path / "pipeline.json")
    assert KEY not in exported.read_text(encoding="utf-8")
    assert read_pipeline_file(exported).spec().reranker == "voyage:rerank-2.5"  # it opens the same reranker again
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("scores.sqlite3*"))
    assert stored and KEY.encode() not in stored  # the scores kept on disk are keyed without the key


# --- retries, timeouts, unreachable, refusals --------------------------------------------------------------------

def test_429_with_retry_after_is_retried_and_succeeds(stubs, remote_settings, sample_texts):
    stubs["jina"].planned.append((429, {"Retry-After": "1"}, {"detail": "rate limit"}))
    reranker = load("jina", stubs, remote_settings)
    started = time.perf_counter()
    scores = score_pairs(reranker, "backup restore", sample_texts[:5])
    assert time.perf_counter() - started >= 1.0  # Retry-After was honoured
    assert len(stubs["jina"].requests) == 2 and len(scores.raw) == 5


def test_503_forever_gives_a_clear_error_after_bounded_retries(stubs, remote_settings, sample_texts):
    stubs["voyage"].always = stubs["voyage"].error(503, "upstream unavailable")
    reranker = load("voyage", stubs, remote_settings)
    with pytest.raises(RemoteServiceError, match=r"failed \(503: upstream unavailable\) after 3 tries"):
        score_pairs(reranker, "q", sample_texts[:3])
    assert len(stubs["voyage"].requests) == 3  # the first try and FAST's 2 retries


def test_a_retry_after_longer_than_allowed_is_not_waited_for(stubs, remote_settings, sample_texts):
    stubs["cohere"].always = (429, {"Retry-After": "3600"}, {"message": "slow down"})
    with pytest.raises(RemoteServiceError, match="limiting requests"):
        score_pairs(load("cohere", stubs, remote_settings), "q", sample_texts[:3])
    assert len(stubs["cohere"].requests) == 1


def test_a_slow_service_times_out(stubs, remote_settings, sample_texts):
    stubs["cohere"].delay_s = 1.5
    reranker = load("cohere", stubs, remote_settings, timeouts=Timeouts(connect_s=1.0, read_s=0.3))
    with pytest.raises(RemoteServiceError, match=r"did not answer within 0.3 s.*EXPLORER_REMOTE_TIMEOUT"):
        score_pairs(reranker, "q", sample_texts[:3])


def test_an_unreachable_service_says_so(remote_settings, sample_texts):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reranker = load_remote_reranker("cohere:rerank-v3.5", _cpu(),
                                    replace(remote_settings, cohere_url=f"http://127.0.0.1:{port}"), policy=FAST)
    with pytest.raises(RemoteServiceError, match=rf"Cannot reach 127.0.0.1:{port}: .*check the network or the base "
                                                 "URL, set by EXPLORER_COHERE_URL"):
        score_pairs(reranker, "q", sample_texts[:3])


def test_a_refused_key_names_its_variable(stubs, remote_settings, sample_texts):
    wrong = replace(remote_settings, voyage_api_key="not-the-key")
    with pytest.raises(RemoteServiceError, match=r"refused the key in VOYAGE_API_KEY \(401: invalid api token\)"):
        score_pairs(load("voyage", stubs, wrong), "q", sample_texts[:3])


def test_a_vendor_message_is_passed_on(stubs, remote_settings, sample_texts):
    stubs["cohere"].always = stubs["cohere"].error(400, "model 'rerank-v9' not found")
    with pytest.raises(RemoteServiceError, match=r"refused the request \(400: model 'rerank-v9' not found\)"):
        score_pairs(load("cohere", stubs, remote_settings), "q", sample_texts[:3])


def test_a_missing_key_names_the_variable_to_set(remote_settings):
    with pytest.raises(ConfigError, match="set JINA_API_KEY"):
        load_remote_reranker("jina:jina-reranker-v2-base-multilingual", _cpu(), replace(remote_settings,
                                                                                         jina_api_key=""))


# --- names and allowed hosts ---------------------------------------------------------------------------------------

def test_names_are_checked_and_normalised(settings):
    assert is_remote_name("cohere:rerank-v3.5") and is_remote_name("Rerank-API:http://x")
    assert not is_remote_name("cross-encoder/ms-marco-MiniLM-L-6-v2") and not is_remote_name("/models/x")
    assert parse_remote_name("rerank-api:HTTP://Svc.Internal:8000/team/").name == "rerank-api:http://svc.internal:8000/team"
    remote = parse_remote_name("rerank-api:http://svc:8000/v1/rerank")
    assert remote.endpoint(settings) == "http://svc:8000/v1/rerank"
    assert parse_remote_name("cohere:rerank-v3.5").endpoint(settings) == "https://api.cohere.com/v2/rerank"
    with pytest.raises(ConfigError, match="does not name a model"):
        parse_remote_name("voyage: ")


@pytest.mark.parametrize("url", ["https://user:s3cret-pass@svc.internal", "https://svc.internal/?api_key=s3cret-pass",
                                 "https://svc.internal/#s3cret-pass"])
def test_a_url_with_credentials_is_refused_without_repeating_them(url):
    with pytest.raises(ConfigError) as refused:
        parse_remote_name(f"rerank-api:{url}")
    assert "s3cret-pass" not in str(refused.value) and "RERANK_API_KEY" in str(refused.value)


def test_pages_send_queries_only_to_allowed_hosts(settings):
    check_remote_allowed("cohere:rerank-v3.5", settings)
    check_remote_allowed("cross-encoder/ms-marco-MiniLM-L-6-v2", settings)
    with pytest.raises(ConfigError, match="not to 'rerank.other-team.example'.*EXPLORER_RERANK_HOSTS"):
        check_remote_allowed("rerank-api:https://rerank.other-team.example", settings)
    check_remote_allowed("rerank-api:https://rerank.other-team.example",
                         replace(settings, rerank_hosts=("rerank.other-team.example",)))
    check_remote_allowed("rerank-api:https://api.cohere.com", settings)  # a vendor's configured base URL


@pytest.mark.parametrize("url, host", [("http://127.0.0.1:8000", "127.0.0.1"), ("http://127.0.0.1:6379", "127.0.0.1"),
                                       ("http://localhost:9200", "localhost"), ("http://[::1]:8000", "::1"),
                                       ("http://127.8.9.10:22", "127.8.9.10")])
def test_this_machines_own_addresses_need_the_setting_like_any_other_host(settings, url, host):
    # whatever listens on a port of this machine would get the visitor's queries and RERANK_API_KEY
    with pytest.raises(ConfigError, match=rf"not to '{re.escape(host)}'.*EXPLORER_RERANK_HOSTS={re.escape(host)} "):
        check_remote_allowed(f"rerank-api:{url}", settings)
    with pytest.raises(ConfigError, match=rf"EXPLORER_RERANK_HOSTS=a.internal,{re.escape(host)} "):
        check_remote_allowed(f"rerank-api:{url}", replace(settings, rerank_hosts=("a.internal",)))
    check_remote_allowed(f"rerank-api:{url}", replace(settings, rerank_hosts=(host,)))


@pytest.mark.slow
def test_the_search_page_sends_no_key_to_a_typed_local_url_until_its_host_is_allowed(stubs, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ui import cache
    from ui.sidebar import REMOTE

    monkeypatch.setenv("RERANK_API_KEY", OTHER_KEY)
    monkeypatch.delenv("EXPLORER_RERANK_HOSTS", raising=False)
    page = str(Path(__file__).resolve().parent.parent / "pages" / "0_Search.py")
    served = stubs["rerank-api"]
    served.reset()
    try:
        cache.settings.clear()
        app = AppTest.from_file(page, default_timeout=300)
        app.session_state["rr_choice"] = REMOTE
        app.session_state["rr_remote"] = f"rerank-api:{served.url}"
        app.run()
        assert not app.exception, app.exception
        shown = " ".join(e.value for e in app.error)
        assert "not to '127.0.0.1'" in shown and "EXPLORER_RERANK_HOSTS=127.0.0.1" in shown
        assert not served.requests  # nothing, and so no key, went to the stub

        monkeypatch.setenv("EXPLORER_RERANK_HOSTS", "127.0.0.1")
        cache.settings.clear()
        app = AppTest.from_file(page, default_timeout=300)
        app.session_state["rr_choice"] = REMOTE
        app.session_state["rr_remote"] = f"rerank-api:{served.url}"
        app.run()
        assert not app.exception, app.exception
        assert not app.error, [e.value for e in app.error]
        assert served.requests and served.requests[0]["headers"]["Authorization"] == f"Bearer {OTHER_KEY}"
    finally:
        monkeypatch.undo()
        cache.settings.clear()


def test_the_key_status_says_set_or_not_never_the_key(remote_settings):
    assert key_status("cohere:rerank-v3.5", remote_settings) == "COHERE_API_KEY is set."
    assert "not set" in key_status("cohere:rerank-v3.5", replace(remote_settings, cohere_api_key=""))
    assert "requests go without a key" in key_status("rerank-api:http://127.0.0.1:1", replace(remote_settings,
                                                                                               rerank_api_key=""))


def test_settings_read_the_keys_from_the_environment_and_keep_them_out_of_repr():
    from explorer.settings import Settings

    read = Settings.from_env({"COHERE_API_KEY": KEY, "EXPLORER_COHERE_URL": "http://127.0.0.1:9",
                              "EXPLORER_RERANK_HOSTS": "A.internal, b.internal", "EXPLORER_REMOTE_RETRIES": "0"})
    assert read.cohere_api_key == KEY and read.cohere_url == "http://127.0.0.1:9"
    assert read.rerank_hosts == ("a.internal", "b.internal") and read.remote_retries == 0
    assert KEY not in repr(read)


# --- the key never leaks ---------------------------------------------------------------------------------------------

def test_the_key_appears_in_no_log_message_repr_or_exported_file(stubs, remote_settings, sample_texts, caplog,
                                                                  tmp_path):
    from explorer.export.pipeline_file import ModelRef

    caplog.set_level(logging.DEBUG)
    reranker = load("cohere", stubs, remote_settings)
    seen: list[str] = []
    score_pairs(reranker, "disk full alert", sample_texts[:10])  # success
    stub = stubs["cohere"]
    for planned in ([stub.error(400, f"bad request from key {KEY}")],  # a service echoing the key is scrubbed
                    [(503, {}, {"message": KEY})] * 3, [(301, {"Location": f"https://x/?k={KEY}"}, {})]):
        stub.planned[:] = planned
        with pytest.raises(RemoteServiceError) as failed:
            score_pairs(reranker, "disk full alert", sample_texts[:10])
        seen += [str(failed.value), repr(failed.value), repr(failed.value.__cause__), repr(failed.value.__context__)]
    with pytest.raises(RemoteServiceError) as refused:  # a wrong key is refused: the one sent is not shown either
        score_pairs(load("cohere", stubs, replace(remote_settings, cohere_api_key=KEY + "-old")), "q", sample_texts[:2])
    seen += [str(refused.value), repr(refused.value)]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = replace(remote_settings, cohere_url=f"http://127.0.0.1:{probe.getsockname()[1]}")
    with pytest.raises(RemoteServiceError) as unreachable:
        score_pairs(load_remote_reranker("cohere:rerank-v3.5", _cpu(), closed, policy=FAST), "q", sample_texts[:2])
    seen += [str(unreachable.value), repr(unreachable.value)]
    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(reranker), repr(reranker.info), repr(reranker.engine), repr(reranker.engine.client),
             repr(remote_settings), model_key(reranker, reranker.engine, reranker.engine.info())]
    with pytest.raises(TypeError):
        pickle.dumps(reranker.engine.client._secret)
    from explorer.export.pipeline_file import PipelineFile, write_pipeline_file
    from explorer.spec import Blend

    exported = write_pipeline_file(PipelineFile(str(tmp_path), "bm25", None, "BM25", ModelRef.of(reranker.info), 10,
                                                Blend("alone")), tmp_path / "pipeline.json")
    seen.append(exported.read_text(encoding="utf-8"))
    assert caplog.records, "nothing was logged, so the log check checked nothing"
    leaks = [text for text in seen if KEY in text]
    assert not leaks, leaks
    assert json.loads(seen[-1])["reranker"]["asked"] == "cohere:rerank-v3.5"
    assert repr(Secret(KEY, "COHERE_API_KEY")) == "<the key in COHERE_API_KEY>"


def test_the_attention_view_says_it_needs_a_local_model(stubs, remote_settings):
    from explorer.attention.model_pass import read_attention

    with pytest.raises(AttentionUnavailableError, match="needs a local model"):
        read_attention(load("cohere", stubs, remote_settings), "q", "a document")


# --- prices ----------------------------------------------------------------------------------------------------------

def test_prices_per_1000_queries_from_the_default_table():
    table = default_price_table()
    cohere = estimate_price("cohere:rerank-v3.5", 100, table)
    assert cohere.usd_per_1000_queries == pytest.approx(2.00) and "check before relying" in cohere.explanation
    assert estimate_price("cohere:rerank-v3.5", 150, table).usd_per_1000_queries == pytest.approx(4.00)
    # 100 documents x (20 + 300) tokens = 32,000 tokens a query; x 1,000 queries x $0.05 per 1M tokens
    assert estimate_price("voyage:rerank-2.5", 100, table).usd_per_1000_queries == pytest.approx(1.60)
    assert estimate_price("voyage:rerank-2.5-lite", 50, table, document_tokens=180).usd_per_1000_queries == \
        pytest.approx(0.02 * 50 * 200 * 1000 / 1e6)
    assert estimate_price("jina:jina-reranker-v2-base-multilingual", 100, table).usd_per_1000_queries is None
    assert estimate_price("rerank-api:http://127.0.0.1:8000", 100, table).usd_per_1000_queries is None


def test_the_price_table_is_a_file_you_can_edit(remote_settings):
    path = remote_settings.cache_dir / "remote_prices.json"
    assert price_table(remote_settings).find("cohere", "rerank-v3.5").usd == 2.00 and path.is_file()
    content = json.loads(path.read_text())
    content["prices"].append({"vendor": "rerank-api", "model": "*", "usd": 0.5, "unit": "1,000 queries"})
    content["prices"][0]["usd"] = 1.0
    path.write_text(json.dumps(content))
    edited = price_table(remote_settings)
    assert estimate_price("cohere:rerank-v3.5", 100, edited).usd_per_1000_queries == pytest.approx(1.0)
    assert estimate_price("rerank-api:http://127.0.0.1:9", 100, edited).usd_per_1000_queries == pytest.approx(0.5)
    content["prices"][0]["unit"] = "per fortnight"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match="Entry 1 of the price table .* unit must be one of"):
        read_price_table(path)


# --- the Search page -------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_search_page_with_a_remote_reranker_shows_network_time_and_price_never_the_key(stubs, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ui import cache
    from ui.sidebar import REMOTE

    monkeypatch.setenv("COHERE_API_KEY", KEY)
    monkeypatch.setenv("EXPLORER_COHERE_URL", stubs["cohere"].url)
    stubs["cohere"].reset()
    cache.settings.clear()  # the page reads the environment through the cached Settings
    try:
        app = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages" / "0_Search.py"),
                                default_timeout=300)
        app.session_state["rr_choice"] = REMOTE
        app.session_state["rr_remote"] = "cohere:rerank-v3.5"
        app.run()
        assert not app.exception, app.exception
        assert not app.error, [e.value for e in app.error]
        assert len(app.dataframe) == 2 and len(stubs["cohere"].requests) >= 1
        captions = " ".join(c.value for c in app.caption)
        assert "reranking (remote, incl. network)" in captions and "(remote · Cohere API)" in captions
        assert "about $2.00 per 1,000 queries" in captions and "COHERE_API_KEY is set." in captions
        shown = [str(element.value) for kind in ("caption", "markdown", "error", "warning", "info", "text",
                                                   "text_input", "selectbox", "dataframe") for element in app.get(kind)]
        shown += [str(button.proto) for button in app.get("download_button")]
        assert not [text for text in shown if KEY in text]
    finally:
        cache.settings.clear()

"""Signals in the service: a pipeline file exported with freshness, authority and a number (and one with MMR), served
over real HTTP on 127.0.0.1, ranks a query as the Search page's pipeline does (``OpenPipeline.search``), through
``/v1/search`` (the corpus's metadata) and ``/v1/rerank`` (the metadata sent with each document); a fallback still
applies them, and a file without signals answers as before."""

from __future__ import annotations

import json
from dataclasses import replace

import cohere
import httpx
import numpy as np
import pytest

from explorer.export.pipeline_file import Threshold, pipeline_file, read_pipeline_file, write_pipeline_file
from explorer.rerank.cascade import CascadeSpec
from explorer.serving.http_app import create_app
from explorer.serving.limits import ServiceLimits
from explorer.serving.service import RerankService
from explorer.signals.config import parse_signals
from explorer.signals.ranking import apply_signals
from explorer.spec import OpenPipeline
from tests.serve_support import SIGNAL_FORMS, SIGNAL_QUERIES, as_sent, http_server, signal_page, write_signal_corpus

FIELDS = ["status", "updated", "views", "no-such-field"]
QUERIES = list(SIGNAL_QUERIES.values())


@pytest.fixture(scope="module")
def page(tmp_path_factory, settings, bi_encoder, reranker):
    """The pipeline with signals, as the Search page opens it on a small corpus whose documents carry metadata;
    warmed by one search, as ``serve`` warms up before it listens (a reranker's first call can prepare its engine for
    minutes, past any budget)."""
    opened = signal_page(write_signal_corpus(tmp_path_factory.mktemp("signals") / "corpus"), settings, bi_encoder,
                         reranker)
    opened.search(QUERIES[0])
    return opened


@pytest.fixture(scope="module")
def exported(page, tmp_path_factory):
    """The page's pipeline exported, its signals resolved against the corpus."""
    return write_pipeline_file(pipeline_file(page), tmp_path_factory.mktemp("signals-file") / "pipeline.json")


def served(path, page: OpenPipeline, **service) -> RerankService:
    """The service of the pipeline file at ``path``, opened as ``serve`` opens it (``PipelineFile.spec``, so its
    signals come from the file) on the page's models and index, which loads nothing again."""
    file = read_pipeline_file(path)
    spec = file.spec()
    opened = OpenPipeline(spec, page.pipeline, spec.blend.weight_for(page.reranker.info))
    return RerankService(file, opened, ServiceLimits(budget_ms=120_000), **service)


@pytest.fixture(scope="module")
def url(exported, page):
    service = served(exported, page)
    try:
        with http_server(create_app(service)) as base:
            yield base
    finally:
        service.close()


def sent_documents(page: OpenPipeline, query: str):
    """The page's candidates for ``query`` as a client sends them: the texts the reranker reads, each with its
    document's metadata (views as a JSON number)."""
    candidates = page.search(query).first_stage
    texts = page.pipeline.reranker_texts(query, candidates)
    dataset = page.pipeline.dataset
    return candidates, [{"text": text, "metadata": as_sent(dataset.document(hit.doc_id).metadata)}
                        for hit, text in zip(candidates, texts)]


def test_the_file_carries_the_signals_resolved(exported, page):
    written = json.loads(exported.read_text(encoding="utf-8"))["signals"]
    assert [signal["kind"] for signal in written["signals"]] == ["freshness", "authority", "number"]
    assert written["signals"][0]["now"] == "2025-06-01"  # the corpus's newest date, written in
    assert (written["signals"][2]["low"], written["signals"][2]["high"]) == (40, 5400)
    assert read_pipeline_file(exported).signals == page.pipeline.resolved_signals(page.spec.signals)


def test_search_answers_in_the_pages_signalled_order_with_the_fields_asked(page, url):
    moved = 0
    with httpx.Client(base_url=url, timeout=120) as client:
        for query in QUERIES:
            body = client.post("/v1/search", json={"query": query, "fields": FIELDS}).json()
            expected = page.search(query)
            assert body["fallback"] is False, body
            results, hits = body["results"], expected.signals.hits
            assert [r["id"] for r in results] == expected.signals.order
            assert [r["rank"] for r in results] == list(range(1, len(hits) + 1))
            assert [r["relevance_rank"] for r in results] == [hit.relevance_rank for hit in hits]
            assert [r["final_score"] for r in results] == pytest.approx([hit.total for hit in hits], abs=1e-5)
            for result, hit in zip(results, hits):
                assert result["signals"] == pytest.approx(dict(hit.contributions), abs=1e-5)
                assert sum(result["signals"].values()) == pytest.approx(result["final_score"], abs=1e-6)
                metadata = page.pipeline.dataset.document(hit.doc_id).metadata
                assert result["fields"] == {name: metadata[name] for name in FIELDS if name in metadata}
            raw = {hit.doc_id: hit.score for hit in expected.reranked}
            assert [r["relevance_score"] for r in results] == pytest.approx([raw[r["id"]] for r in results],
                                                                            abs=1e-4)
            assert body["signals"] == {"described": expected.signals.config.describe(), "relevance": "ranking_score"}
            moved += expected.signals.order != [hit.doc_id for hit in expected.reranked]
    assert moved >= 1  # the signals reorder at least one query: the test can tell their order from relevance's
    fields = [r["fields"] for r in results]
    assert any("status" not in f for f in fields) and all("no-such-field" not in f for f in fields)
    assert all(f["views"].isdigit() for f in fields)


def test_rerank_of_the_pages_candidates_with_their_metadata_gives_the_pages_order(page, url):
    with httpx.Client(base_url=url, timeout=120) as client:
        for query in QUERIES:
            candidates, documents = sent_documents(page, query)
            body = client.post("/v1/rerank", json={"query": query, "documents": documents}).json()
            expected = page.search(query)
            assert body["fallback"] is False, body
            assert [candidates[r["index"]].doc_id for r in body["results"]] == expected.signals.order
            hits = expected.signals.hits
            assert [r["final_score"] for r in body["results"]] == pytest.approx([h.total for h in hits], abs=1e-5)
            assert [r["relevance_rank"] for r in body["results"]] == [h.relevance_rank for h in hits]
            for result, hit in zip(body["results"], hits):
                assert result["signals"] == pytest.approx(dict(hit.contributions), abs=1e-5)
            raw = {hit.doc_id: hit.score for hit in expected.reranked}  # relevance_score stays the reranker's
            assert [r["relevance_score"] for r in body["results"]] == pytest.approx(
                [raw[candidates[r["index"]].doc_id] for r in body["results"]], abs=1e-4)
            assert body["signals"]["relevance"] == "relevance_score"
            top = client.post("/v1/rerank", json={"query": query, "documents": documents, "top_n": 2}).json()
            assert [candidates[r["index"]].doc_id for r in top["results"]] == expected.signals.order[:2]


def test_plain_strings_have_no_metadata_and_vendor_clients_take_the_answer(page, url):
    query = QUERIES[0]
    _, documents = sent_documents(page, query)
    texts = [document["text"] for document in documents]
    own = httpx.post(f"{url}/v1/rerank", json={"query": query, "documents": texts}, timeout=120).json()
    # no metadata: no date (freshness 0), no views (0), no status (authority's other, 0.5), alike for every document,
    # so the reranker's order stands
    scores = [r["relevance_score"] for r in own["results"]]
    assert scores == sorted(scores, reverse=True)
    for result in own["results"]:
        assert result["signals"]["freshness (updated)"] == 0 and result["signals"]["views (log)"] == 0
        assert result["signals"]["authority (status)"] == pytest.approx(0.2 * 0.5)
    client = cohere.ClientV2(api_key="x", base_url=url, timeout=120)
    answer = client.rerank(model="any-name", query=query, documents=texts, top_n=4)
    assert [r.index for r in answer.results] == [r["index"] for r in own["results"][:4]]
    v1 = cohere.Client(api_key="x", base_url=url, timeout=120).rerank(query=query, documents=documents, top_n=3)
    assert [r.index for r in v1.results] == [r["index"] for r in httpx.post(
        f"{url}/v1/rerank", json={"query": query, "documents": documents, "top_n": 3}, timeout=120).json()["results"]]


@pytest.mark.parametrize("metadata, message", [
    ("current", "documents.1.metadata must be an object"),
    ([1, 2], "documents.1.metadata must be an object"),
])
def test_metadata_that_is_not_an_object_gets_a_400_naming_the_document(metadata, message, url):
    documents = [{"text": "reset the vpn"}, {"text": "vpn rules", "metadata": metadata}]
    answer = httpx.post(f"{url}/v1/rerank", json={"query": "vpn", "documents": documents}, timeout=60)
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text


def test_a_fallback_applies_the_signals_to_the_first_stage_or_the_order_sent(page, exported):
    def failing(pairs):
        raise RuntimeError("the reranker's device went away")

    service = served(exported, page, score=failing)
    query = QUERIES[0]
    try:
        searched = service.search(query)
        candidates, documents = sent_documents(page, query)
        reranked = service.rerank(query, [d["text"] for d in documents], None, None,
                                  [d["metadata"] for d in documents])
    finally:
        service.close()
    first_stage = page.pipeline.search(query, depth=page.spec.depth, rerank=False)
    expected = page.pipeline.rank_with_signals(first_stage, page.spec.signals).signals  # a page without a reranker
    assert searched.fallback and [hit.doc_id for hit in searched.results] == expected.order
    assert searched.signals is not None and searched.signals.relevance == "first_stage_score"
    assert [hit.signalled.final_score for hit in searched.results] == pytest.approx([h.total for h in expected.hits])
    config = read_pipeline_file(exported).signals
    metadata = [page.pipeline.dataset.document(hit.doc_id).metadata for hit in candidates]
    by_order_sent = apply_signals([str(i) for i in range(len(documents))], None, lambda i: metadata[int(i)], config)
    assert reranked.fallback and [item.index for item in reranked.results] == [int(i) for i in by_order_sent.order]
    assert reranked.signals is not None and reranked.signals.relevance == "order_sent"


def test_the_threshold_drops_what_the_reranker_scored_under_it_from_the_signals_order(page, tmp_path):
    query = QUERIES[0]
    expected = page.search(query)
    raw = {hit.doc_id: hit.score for hit in expected.reranked}
    cut = float(np.median(list(raw.values())))
    path = write_pipeline_file(pipeline_file(page, Threshold(cut, "raw")), tmp_path / "cut.json")
    service = served(path, page)
    try:
        answer = service.search(query)
    finally:
        service.close()
    assert [hit.doc_id for hit in answer.results] == [d for d in expected.signals.order if raw[d] >= cut]
    assert answer.dropped_by_threshold == sum(score < cut for score in raw.values()) > 0


def test_mmr_in_the_file_reranks_the_pages_candidates_as_the_page_does(page, tmp_path):
    spec = replace(page.spec, signals=parse_signals([*SIGNAL_FORMS, "mmr:0.5"]))
    mmr_page = OpenPipeline(spec, page.pipeline, page.blend)
    path = write_pipeline_file(pipeline_file(mmr_page), tmp_path / "mmr.json")
    service = served(path, page)
    try:
        with http_server(create_app(service)) as base, httpx.Client(base_url=base, timeout=120) as client:
            for query in QUERIES:
                candidates, documents = sent_documents(page, query)
                body = client.post("/v1/rerank", json={"query": query, "documents": documents}).json()
                expected = mmr_page.search(query).signals
                assert [candidates[r["index"]].doc_id for r in body["results"]] == expected.order
                searched = client.post("/v1/search", json={"query": query}).json()
                assert [r["id"] for r in searched["results"]] == expected.order
                assert "document encoding" in body["timings_ms"] and "signals" in body["timings_ms"]
    finally:
        service.close()
    assert any(h.moved_by_diversity for h in expected.hits)  # MMR moved something: its vectors were read


def test_a_file_without_signals_answers_as_before(page, tmp_path):
    plain = OpenPipeline(replace(page.spec, signals=None), page.pipeline, page.blend)
    path = write_pipeline_file(pipeline_file(plain), tmp_path / "plain.json")
    assert "signals" not in json.loads(path.read_text(encoding="utf-8"))
    service = served(path, page)
    query = QUERIES[0]
    try:
        with http_server(create_app(service)) as base, httpx.Client(base_url=base, timeout=120) as client:
            searched = client.post("/v1/search", json={"query": query}).json()
            candidates, documents = sent_documents(page, query)
            # metadata is not read without signals: not even checked, as before signals existed
            documents[1]["metadata"] = "not an object"
            reranked = client.post("/v1/rerank", json={"query": query, "documents": documents}).json()
            health = client.get("/health").json()
    finally:
        service.close()
    expected = plain.search(query)
    assert expected.signals is None
    assert [r["id"] for r in searched["results"]] == [hit.doc_id for hit in expected.reranked]
    assert [r["rank"] for r in searched["results"]] == [hit.rank for hit in expected.reranked]
    assert set(searched) == {"id", "model", "results", "fallback", "dropped_by_threshold", "timings_ms"}
    assert all(set(r) == {"id", "rank", "relevance_score", "probability", "ranking_score", "first_stage_rank",
                          "first_stage_score"} for r in searched["results"])
    assert [candidates[r["index"]].doc_id for r in reranked["results"]] == [hit.doc_id for hit in expected.reranked]
    assert "signals" not in reranked and all(set(r) <= {"index", "relevance_score", "probability"}
                                             for r in reranked["results"])
    assert "signals" not in searched["timings_ms"] and health["signals"] is None


def test_with_a_cascade_both_doors_rank_as_the_page_does_by_the_cascades_rank(page, reranker, tmp_path):
    # the default reranker as its own small reranker: no other model to load, and the cascade's code path all the same
    spec = replace(page.spec, cascade=CascadeSpec("default", 3))
    cascade_page = OpenPipeline(spec, page.pipeline.with_cascade(reranker, 3), page.blend)
    path = write_pipeline_file(pipeline_file(cascade_page), tmp_path / "cascade.json")
    service = served(path, cascade_page)
    try:
        with http_server(create_app(service)) as base, httpx.Client(base_url=base, timeout=120) as client:
            for query in QUERIES:
                expected = cascade_page.search(query)
                assert expected.cascade is not None
                searched = client.post("/v1/search", json={"query": query}).json()
                assert [r["id"] for r in searched["results"]] == expected.signals.order
                assert [r["final_score"] for r in searched["results"]] == pytest.approx(
                    [h.total for h in expected.signals.hits], abs=1e-5)
                assert searched["signals"]["relevance"] == "cascade_rank"
                candidates, documents = sent_documents(cascade_page, query)
                reranked = client.post("/v1/rerank", json={"query": query, "documents": documents}).json()
                assert [candidates[r["index"]].doc_id for r in reranked["results"]] == expected.signals.order
                assert reranked["signals"]["relevance"] == "cascade_rank"
    finally:
        service.close()

"""Vendors' own clients against the service over real HTTP on 127.0.0.1: Cohere's current Python client
(``cohere.ClientV2``, which posts to ``/v2/rerank``), its v1 client (``cohere.Client``, ``/v1/rerank``) and
LangChain's ``CohereRerank`` (a ClientV2 inside) get the order and scores that the service's own ``/v1/rerank``
answer gives."""

from __future__ import annotations

import cohere
import httpx
import pytest

from explorer.export.pipeline_file import pipeline_file, write_pipeline_file
from explorer.serving.http_app import create_app
from explorer.serving.startup import open_service
from explorer.spec import Blend, DirectParts, PipelineSpec, open_pipeline
from tests.serve_support import http_server

QUERY = "the vpn drops every few minutes"
DOCUMENTS = ["reset the vpn client and sign in again", "the printer on floor two is out of toner",
             "vpn connections time out after a few minutes on the office wifi", "order a new badge at reception",
             "how to install the vpn client on a new laptop", "the wifi password changed on monday"]


@pytest.fixture(scope="module")
def service(settings, tmp_path_factory):
    """The service as ``serve`` starts it, from an exported pipeline file."""
    opened = open_pipeline(PipelineSpec(depth=10, blend=Blend("card")), DirectParts(settings), None)
    path = write_pipeline_file(pipeline_file(opened), tmp_path_factory.mktemp("vendors") / "pipeline.json")
    started = open_service(path, settings)
    yield started
    started.close()


@pytest.fixture(scope="module")
def url(service):
    with http_server(create_app(service)) as base:
        yield base


def own_answer(url: str, documents: list[str], top_n: int | None = None) -> list[tuple[int, float]]:
    """(index, relevance_score) in order, as the service's own /v1/rerank answers."""
    body = {"query": QUERY, "documents": documents, **({"top_n": top_n} if top_n else {})}
    answer = httpx.post(f"{url}/v1/rerank", json=body, timeout=120)
    assert answer.status_code == 200 and answer.json()["fallback"] is False, answer.text
    return [(result["index"], result["relevance_score"]) for result in answer.json()["results"]]


def pairs(results) -> list[tuple[int, float]]:
    return [(result.index, result.relevance_score) for result in results]


def test_cohere_client_v2_reranks_through_v2_rerank_as_the_service_does(url):
    client = cohere.ClientV2(api_key="x", base_url=url, timeout=120)
    answer = client.rerank(model="any-name", query=QUERY, documents=DOCUMENTS, top_n=4)
    expected = own_answer(url, DOCUMENTS, top_n=4)
    assert [index for index, _ in pairs(answer.results)] == [index for index, _ in expected]
    assert [score for _, score in pairs(answer.results)] == pytest.approx([score for _, score in expected], abs=1e-5)
    assert answer.id and answer.meta.api_version.version == "2"
    everything = client.rerank(model="any-name", query=QUERY, documents=DOCUMENTS)  # no top_n: all, in order
    assert sorted(index for index, _ in pairs(everything.results)) == list(range(len(DOCUMENTS)))


def test_cohere_v1_client_reranks_through_v1_rerank_with_the_documents_back(url):
    client = cohere.Client(api_key="x", base_url=url, timeout=120)
    answer = client.rerank(query=QUERY, documents=DOCUMENTS, top_n=3, return_documents=True)
    expected = own_answer(url, DOCUMENTS, top_n=3)
    assert [index for index, _ in pairs(answer.results)] == [index for index, _ in expected]
    assert [score for _, score in pairs(answer.results)] == pytest.approx([score for _, score in expected], abs=1e-5)
    assert [result.document.text for result in answer.results] == [DOCUMENTS[index] for index, _ in expected]


def test_langchain_cohere_rerank_keeps_the_services_best_documents(url):
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document

    reranker = CohereRerank(base_url=url, cohere_api_key="x", model="any-name", top_n=3)
    documents = [Document(page_content=text, metadata={"n": n}) for n, text in enumerate(DOCUMENTS)]
    kept = reranker.compress_documents(documents, QUERY)
    expected = own_answer(url, DOCUMENTS, top_n=3)
    assert [document.metadata["n"] for document in kept] == [index for index, _ in expected]
    assert [document.metadata["relevance_score"] for document in kept] == pytest.approx(
        [score for _, score in expected], abs=1e-5)
    assert [document.metadata for document in documents] == [{"n": n} for n in range(len(DOCUMENTS))]


def test_max_tokens_per_doc_scores_each_document_by_its_first_tokens(url, service):
    tokenizer = service.reranker.model.tokenizer
    head = "reset the vpn client"
    count = len(tokenizer(head, add_special_tokens=False)["input_ids"])
    long = f"{head} {'and then the printer on floor two ran out of toner again ' * 3}"
    assert tokenizer(long, add_special_tokens=False)["input_ids"][:count] == \
        tokenizer(head, add_special_tokens=False)["input_ids"]
    short = "vpn"
    client = cohere.ClientV2(api_key="x", base_url=url, timeout=120)
    cut = client.rerank(model="any-name", query=QUERY, documents=[long, short], max_tokens_per_doc=count)
    assert dict(pairs(cut.results)) == pytest.approx(dict(own_answer(url, [head, short])), abs=1e-5)
    # a limit the reranker's own token limit already keeps to changes nothing
    whole = client.rerank(model="any-name", query=QUERY, documents=[long, short],
                          max_tokens_per_doc=service.reranker.engine.max_length)
    assert dict(pairs(whole.results)) == pytest.approx(dict(own_answer(url, [long, short])), abs=1e-5)


@pytest.mark.parametrize("body, message", [
    ({"model": "m", "query": "vpn", "documents": ["a"], "max_tokens_per_doc": 0}, "max_tokens_per_doc must be at"),
    ({"model": "m", "query": "vpn", "documents": [{"text": "a"}]}, "documents.0: Input should be a valid string"),
    ({"model": "m", "query": "vpn", "documents": ["a"], "top_n": 0}, "top_n must be between"),
    ({"model": "m", "documents": ["a"]}, "query: Field required"),
], ids=["max_tokens_per_doc zero", "a document object", "top_n zero", "no query"])
def test_v2_rerank_refuses_bad_input_with_a_400_that_says_what_is_wrong(body, message, url):
    answer = httpx.post(f"{url}/v2/rerank", json=body, timeout=60)
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text


def test_cohere_client_v2_raises_its_bad_request_error_with_the_services_message(url):
    client = cohere.ClientV2(api_key="x", base_url=url, timeout=120)
    with pytest.raises(cohere.BadRequestError, match="No documents to rerank"):
        client.rerank(model="any-name", query=QUERY, documents=[])

"""Signals in the LangChain compressor: a pipeline file exported with freshness, authority and a number (and one with
MMR) reorders real langchain-core Documents, reading each one's metadata, as the Search page's pipeline orders the
same candidates (``OpenPipeline.search``); relevance_score stays the reranker's."""

from __future__ import annotations

import copy
import logging
from dataclasses import replace

import pytest
from langchain_core.documents import Document

from explorer.errors import ConfigError
from explorer.export.pipeline_file import Threshold, pipeline_file, read_pipeline_file, write_pipeline_file
from explorer.integrations.langchain_compressor import ExplorerReranker
from explorer.rerank.cascade import CascadeSpec
from explorer.signals.config import parse_signals
from explorer.spec import OpenPipeline
from tests.serve_support import SIGNAL_FORMS, SIGNAL_QUERIES, as_sent, signal_page, write_signal_corpus

QUERIES = list(SIGNAL_QUERIES.values())


@pytest.fixture(scope="module")
def page(tmp_path_factory, settings, bi_encoder, reranker):
    """The pipeline with signals, as the Search page opens it on a small corpus whose documents carry metadata."""
    return signal_page(write_signal_corpus(tmp_path_factory.mktemp("signals") / "corpus"), settings, bi_encoder,
                       reranker)


@pytest.fixture(scope="module")
def exported(page, tmp_path_factory):
    return write_pipeline_file(pipeline_file(page), tmp_path_factory.mktemp("signals-file") / "pipeline.json")


def as_documents(page: OpenPipeline, query: str) -> list[Document]:
    """The page's candidates for ``query`` as LangChain Documents: the text the reranker reads, the document's
    metadata (views as a number, as a LangChain loader would keep it) and a field of the caller's own."""
    candidates = page.search(query).first_stage
    dataset = page.pipeline.dataset
    return [Document(page_content=text, id=hit.doc_id,
                     metadata={**as_sent(dataset.document(hit.doc_id).metadata), "doc_id": hit.doc_id,
                               "source": "retriever"})
            for hit, text in zip(candidates, page.pipeline.reranker_texts(query, candidates))]


def ids(found) -> list[str]:
    return [document.metadata["doc_id"] for document in found]


def test_documents_come_back_in_the_pages_signalled_order_with_the_final_score_and_its_parts(page, exported,
                                                                                           reranker, caplog):
    with caplog.at_level(logging.WARNING):
        compressor = ExplorerReranker.from_pipeline_file(exported, top_n=8, reranker=reranker)
    assert caplog.records == []
    moved = 0
    for query in QUERIES:
        documents = as_documents(page, query)
        given = copy.deepcopy(documents)
        found = compressor.compress_documents(documents, query)
        expected = page.search(query)
        assert ids(found) == expected.signals.order
        for document, hit in zip(found, expected.signals.hits):
            assert document.metadata["final_score"] == pytest.approx(hit.total, abs=1e-5)
            assert document.metadata["signal_contributions"] == pytest.approx(dict(hit.contributions), abs=1e-5)
            assert document.metadata["source"] == "retriever"
        raw = {hit.doc_id: hit.score for hit in expected.reranked}  # relevance_score stays the reranker's
        assert [d.metadata["relevance_score"] for d in found] == pytest.approx([raw[i] for i in ids(found)], abs=1e-4)
        assert documents == given  # the caller's Documents are left as they were
        moved += expected.signals.order != [hit.doc_id for hit in expected.reranked]
        top = ExplorerReranker.from_pipeline_file(exported, top_n=2, reranker=reranker)
        assert ids(top.compress_documents(documents, query)) == expected.signals.order[:2]
    assert moved >= 1  # the signals reorder at least one query: the test can tell their order from relevance's


def test_the_threshold_drops_what_the_reranker_scored_under_it_from_the_signals_order(page, reranker, tmp_path):
    query = QUERIES[0]
    expected = page.search(query)
    raw = {hit.doc_id: hit.score for hit in expected.reranked}
    cut = sorted(raw.values())[len(raw) // 2]
    path = write_pipeline_file(pipeline_file(page, Threshold(cut, "raw")), tmp_path / "cut.json")
    found = ExplorerReranker.from_pipeline_file(path, top_n=8, reranker=reranker).compress_documents(
        as_documents(page, query), query)
    assert ids(found) == [doc_id for doc_id in expected.signals.order if raw[doc_id] >= cut]


def test_mmr_reads_the_bi_encoders_vectors_and_orders_as_the_page_does(page, reranker, bi_encoder, tmp_path):
    mmr_page = OpenPipeline(replace(page.spec, signals=parse_signals([*SIGNAL_FORMS, "mmr:0.5"])), page.pipeline,
                            page.blend)
    path = write_pipeline_file(pipeline_file(mmr_page), tmp_path / "mmr.json")
    compressor = ExplorerReranker.from_pipeline_file(path, top_n=8, reranker=reranker, bi_encoder=bi_encoder)
    assert compressor.bi_encoder is bi_encoder
    for query in QUERIES:
        expected = mmr_page.search(query).signals
        assert ids(compressor.compress_documents(as_documents(page, query), query)) == expected.order
    assert any(hit.moved_by_diversity for hit in expected.hits)
    with pytest.raises(ConfigError, match="give bi_encoder="):
        ExplorerReranker(reranker=reranker, pipeline_file=read_pipeline_file(path))


def test_with_a_cascade_the_signals_go_by_the_cascades_rank_as_on_the_page(page, reranker, tmp_path):
    # the default reranker as its own small reranker: no other model to load, and the cascade's code path all the same
    cascade_page = OpenPipeline(replace(page.spec, cascade=CascadeSpec("default", 3)),
                                page.pipeline.with_cascade(reranker, 3), page.blend)
    path = write_pipeline_file(pipeline_file(cascade_page), tmp_path / "cascade.json")
    compressor = ExplorerReranker.from_pipeline_file(path, top_n=8, reranker=reranker, small_reranker=reranker)
    for query in QUERIES:
        found = compressor.compress_documents(as_documents(page, query), query)
        assert ids(found) == cascade_page.search(query).signals.order


def test_a_document_without_the_fields_counts_none_of_them(page, exported, reranker):
    compressor = ExplorerReranker.from_pipeline_file(exported, top_n=8, reranker=reranker)
    bare = [Document(page_content=d.page_content, metadata={"doc_id": d.metadata["doc_id"]})
            for d in as_documents(page, QUERIES[0])]
    found = compressor.compress_documents(bare, QUERIES[0])
    scores = [d.metadata["relevance_score"] for d in found]
    assert scores == sorted(scores, reverse=True)  # every document gets the same signals: the reranker's order stands
    for document in found:  # no status: authority's other (0.5); no date, no views: 0
        assert document.metadata["signal_contributions"]["authority (status)"] == pytest.approx(0.2 * 0.5)
        assert document.metadata["signal_contributions"]["freshness (updated)"] == 0
        assert document.metadata["signal_contributions"]["views (log)"] == 0


def test_a_file_without_signals_adds_nothing(page, reranker, tmp_path):
    plain = OpenPipeline(replace(page.spec, signals=None), page.pipeline, page.blend)
    path = write_pipeline_file(pipeline_file(plain), tmp_path / "plain.json")
    query = QUERIES[0]
    found = ExplorerReranker.from_pipeline_file(path, top_n=8, reranker=reranker).compress_documents(
        as_documents(page, query), query)
    assert ids(found) == [hit.doc_id for hit in plain.search(query).reranked]
    assert all("final_score" not in d.metadata and "signal_contributions" not in d.metadata for d in found)

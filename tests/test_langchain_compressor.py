"""LangChain: the reranker of an exported pipeline file as a langchain-core document compressor, tested with the real
langchain-core and the default reranker: it ranks and scores as ``score_pairs`` does, keeps what the file's threshold
keeps, returns at most top_n scored copies, and runs inside a langchain-core chain."""

from __future__ import annotations

import copy
import importlib
import json
import logging
import re
import sys

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from explorer.errors import ConfigError
from explorer.export.pipeline_file import Threshold, pipeline_file, write_pipeline_file
from explorer.integrations.langchain_compressor import ExplorerReranker
from explorer.rerank.scoring import order_by_score, score_pairs
from explorer.spec import OpenPipeline, PipelineSpec
from tests.serve_support import run_coroutine

QUERY_ID = "q003"  # four judged documents in the sample's test split, graded 0 to 3
# The manual's lines, run as they are printed there (``retriever`` and ``query`` are the reader's own).
MANUAL_PAGE = Path(__file__).resolve().parent.parent / "docs" / "langchain.md"


def manual_lines() -> str:
    """The code block of the manual's LangChain page, as a reader copies it."""
    text = MANUAL_PAGE.read_text(encoding="utf-8")
    section = text[text.index("# Use the pipeline in LangChain"):]
    block = section[section.index("```python\n") + len("```python\n"):]
    return block[:block.index("```")]


MANUAL_LINES = manual_lines()


@pytest.fixture(scope="module")
def opened(sample_pipeline, reranker):
    """The sample pipeline with the default reranker, opened as ``open_pipeline`` would open it (no extra load)."""
    spec = PipelineSpec(depth=10)
    return OpenPipeline(spec, sample_pipeline, spec.blend.weight_for(reranker.info))


@pytest.fixture(scope="module")
def exported(opened, tmp_path_factory):
    """The pipeline exported without a threshold."""
    return write_pipeline_file(pipeline_file(opened), tmp_path_factory.mktemp("export") / "pipeline.json")


@pytest.fixture(scope="module")
def query(sample):
    return sample.queries[QUERY_ID].text


@pytest.fixture(scope="module")
def documents(sample):
    """The query's four judged documents among four unjudged ones, as LangChain Documents with metadata of their own."""
    judged = sorted(sample.qrels_by_split["test"][QUERY_ID])
    others = [d.doc_id for d in sample.documents if d.doc_id not in judged][:4]
    return [Document(page_content=sample.document(doc_id).full_text, id=doc_id,
                     metadata={"doc_id": doc_id, "source": "sample"}) for doc_id in [*others, *judged]]


@pytest.fixture(scope="module")
def expected(reranker, query, documents):
    """score_pairs on the same texts: the scores and order the compressor must give."""
    scores = score_pairs(reranker, query, [d.page_content for d in documents])
    return scores, order_by_score(scores.raw.tolist())


def ids(found):
    return [d.metadata["doc_id"] for d in found]


def test_documents_come_back_in_the_rerankers_order_with_its_scores(exported, reranker, query, documents, expected,
                                                                    caplog):
    scores, order = expected
    with caplog.at_level(logging.WARNING):
        compressor = ExplorerReranker.from_pipeline_file(exported, top_n=len(documents), reranker=reranker)
    assert caplog.records == []  # the exported reranker is the one in use, unblended: nothing to warn about

    found = compressor.compress_documents(documents, query)
    assert ids(found) == [documents[p].id for p in order]
    assert [d.metadata["relevance_score"] for d in found] == pytest.approx([float(scores.raw[p]) for p in order])
    if scores.probability is not None:
        assert [d.metadata["probability"] for d in found] == pytest.approx(
            [float(scores.probability[p]) for p in order])
    else:
        assert all("probability" not in d.metadata for d in found)
    assert all(d.metadata["source"] == "sample" for d in found)  # the caller's metadata is kept
    assert len(set(scores.raw.tolist())) == len(documents)  # distinct scores: the order above is not down to ties


@pytest.mark.parametrize("top_n", [1, 3])
def test_at_most_top_n_documents_come_back_the_best_first(exported, reranker, query, documents, expected, top_n):
    compressor = ExplorerReranker.from_pipeline_file(exported, top_n=top_n, reranker=reranker)
    assert ids(compressor.compress_documents(documents, query)) == [documents[p].id for p in expected[1][:top_n]]


def test_a_raw_threshold_drops_exactly_the_documents_below_it(opened, reranker, query, documents, expected,
                                                              tmp_path):
    scores, order = expected
    ranked = [float(scores.raw[p]) for p in order]
    threshold = (ranked[2] + ranked[3]) / 2  # between the third and fourth best
    path = write_pipeline_file(pipeline_file(opened, Threshold(threshold, "raw")), tmp_path / "cut.json")

    compressor = ExplorerReranker.from_pipeline_file(path, top_n=len(documents), reranker=reranker)
    found = compressor.compress_documents(documents, query)
    assert ids(found) == [documents[p].id for p in order[:3]]
    assert all(d.metadata["relevance_score"] >= threshold for d in found)
    assert sum(score >= threshold for score in scores.raw.tolist()) == 3


def test_the_callers_documents_are_left_as_they_were(exported, reranker, query, documents):
    before = copy.deepcopy(documents)
    compressor = ExplorerReranker.from_pipeline_file(exported, top_n=len(documents), reranker=reranker)
    found = compressor.compress_documents(documents, query)
    assert documents == before
    assert all("relevance_score" not in d.metadata for d in documents)
    assert not {id(d) for d in found} & {id(d) for d in documents}
    assert not {id(d.metadata) for d in found} & {id(d.metadata) for d in documents}


def test_equal_scores_keep_the_order_the_documents_came_in(reranker, documents, expected, query):
    order = expected[1]
    best, worst = documents[order[0]], documents[order[-1]]
    twin = best.model_copy(update={"id": "twin", "metadata": {"doc_id": "twin"}})
    compressor = ExplorerReranker(reranker=reranker, top_n=3)
    found = compressor.compress_documents([worst, best, twin], query)
    assert found[0].metadata["relevance_score"] == found[1].metadata["relevance_score"]  # the same text, one score
    assert ids(found) == [best.id, "twin", worst.id]
    assert ids(compressor.compress_documents([twin, worst, best], query)) == ["twin", best.id, worst.id]


def test_no_documents_give_no_documents(reranker):
    assert ExplorerReranker(reranker=reranker).compress_documents([], "anything") == []


def test_a_file_without_a_reranker_and_a_top_n_under_one_are_refused(opened, reranker, exported, tmp_path):
    first_stage_only = OpenPipeline(PipelineSpec(reranker=None), opened.pipeline.with_reranker(None), 1.0)
    path = write_pipeline_file(pipeline_file(first_stage_only), tmp_path / "dense.json")
    with pytest.raises(ConfigError, match="has no reranker .* Export a pipeline with a reranker"):
        ExplorerReranker.from_pipeline_file(path, reranker=reranker)
    with pytest.raises(ConfigError, match="top_n .* at least 1; got 0"):
        ExplorerReranker.from_pipeline_file(exported, top_n=0, reranker=reranker)


@pytest.mark.parametrize("change, warning", [
    (lambda c: c["reranker"].update(fingerprint="0" * 64),
     r"loaded here has other weights than the exported one \(fingerprint \w+ vs 000000000000\)"),
    (lambda c: c["reranker"].update(loaded="someone/another-reranker"),
     r"the reranker someone/another-reranker was exported, but .+ loaded here"),
    (lambda c: c.update(blend={"mode": "custom", "weight": 0.6}),
     r"blends the reranker \(weight 0.6\) .* ordered by the reranker's score alone"),
    (lambda c: c.update(passages={"max_tokens": 128, "overlap": 16}),
     r"passages of 128 tokens, but .* split long documents first"),
    (lambda c: c.update(window={"max_tokens": 64, "stride": 0}),
     r"best 64-token window .* from its start.* split long documents first"),
])
def test_what_differs_from_the_exported_pipeline_is_logged(exported, reranker, tmp_path, caplog, change, warning):
    content = json.loads(exported.read_text())
    change(content)
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(content))
    with caplog.at_level(logging.WARNING, logger="explorer.integrations.langchain_compressor"):
        ExplorerReranker.from_pipeline_file(path, reranker=reranker)
    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.WARNING
    assert str(path) in caplog.messages[0]
    assert re.search(warning, caplog.messages[0])


def test_it_compresses_inside_a_langchain_core_chain_and_asynchronously(exported, reranker, query, documents):
    compressor = ExplorerReranker.from_pipeline_file(exported, top_n=3, reranker=reranker)
    direct = compressor.compress_documents(documents, query)
    retriever = InMemoryVectorStore.from_documents(documents, DeterministicFakeEmbedding(size=16)).as_retriever(
        search_kwargs={"k": len(documents)})
    chain = (RunnableParallel(documents=retriever, query=RunnablePassthrough())
             | RunnableLambda(lambda given: compressor.compress_documents(given["documents"], given["query"])))

    found = chain.invoke(query)
    assert ids(found) == ids(direct)
    assert [d.metadata["relevance_score"] for d in found] == pytest.approx(
        [d.metadata["relevance_score"] for d in direct])
    assert ids(run_coroutine(compressor.acompress_documents(documents, query))) == ids(direct)


def test_the_manual_lines_run(exported, reranker, query, documents, tmp_path, monkeypatch):
    """The manual's lines as printed (docs/langchain.md): the file's reranker loaded as the explorer loads it (the one
    real load here)."""
    (tmp_path / "pipeline.json").write_text(exported.read_text())
    monkeypatch.chdir(tmp_path)
    retriever = InMemoryVectorStore.from_documents(documents, DeterministicFakeEmbedding(size=16)).as_retriever(
        search_kwargs={"k": len(documents)})
    names = {"retriever": retriever, "query": query}
    exec(compile(MANUAL_LINES, "docs/langchain.md", "exec"), names)  # noqa: S102 - this file's own constant

    best = names["best"]
    assert names["compressor"].reranker.info.loaded == reranker.info.loaded
    assert len(best) == 5
    scored = [d.metadata["relevance_score"] for d in best]
    assert scored == sorted(scored, reverse=True)
    # loaded on this machine's own device and precision: the same scores, within bf16's rounding where it runs
    again = score_pairs(reranker, query, [d.page_content for d in best]).raw.tolist()
    assert scored == pytest.approx(again, abs=0.1)


def test_importing_it_without_langchain_core_says_what_to_install(monkeypatch):
    for name in [name for name in sys.modules if name == "langchain_core" or name.startswith("langchain_core.")]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: importing it raises ImportError
    monkeypatch.delitem(sys.modules, "explorer.integrations.langchain_compressor")
    with pytest.raises(ImportError, match="pip install langchain-core"):
        importlib.import_module("explorer.integrations.langchain_compressor")


CASCADE_KEEP = 3


@pytest.fixture(scope="module")
def small(trained_folder, cpu, settings):
    """The cascade's small reranker: the short trained run, another model than the default reranker."""
    from explorer.models.resolution import load_reranker

    return load_reranker(str(trained_folder), cpu, settings)


@pytest.fixture(scope="module")
def cascaded(opened, small, trained_folder):
    """``opened`` with a cascade: the small reranker reads every candidate, the default reranker its best 3."""
    from dataclasses import replace

    from explorer.rerank.cascade import CascadeSpec

    return OpenPipeline(replace(opened.spec, cascade=CascadeSpec(str(trained_folder), CASCADE_KEEP)),
                        opened.pipeline.with_cascade(small, CASCADE_KEEP), opened.blend)


def candidates_as_documents(pipeline, query, depth=10):
    """The first stage's candidates for ``query`` as LangChain Documents, in the first stage's order."""
    hits = pipeline.search(query, depth=depth, rerank=False).first_stage
    return [Document(page_content=pipeline.candidate_text(hit), id=hit.doc_id, metadata={"doc_id": hit.doc_id})
            for hit in hits]


def test_with_a_cascade_documents_come_back_in_the_pipelines_cascade_order(cascaded, reranker, small, sample,
                                                                           tmp_path):
    pipeline = cascaded.pipeline.uncached()
    path = write_pipeline_file(pipeline_file(cascaded), tmp_path / "cascade.json")
    from_file = ExplorerReranker.from_pipeline_file(path, top_n=10, reranker=reranker, small_reranker=small)
    given = ExplorerReranker(reranker=reranker, small_reranker=small, keep=CASCADE_KEEP, top_n=10)
    assert from_file.small_reranker is small and from_file.keep == CASCADE_KEEP
    unlike_plain = 0
    for query in [q.text for q in list(sample.labelled_queries("test"))[:4]]:
        documents = candidates_as_documents(pipeline, query)
        expected = pipeline.search(query, depth=10, blend=1.0).reranked
        for compressor in (from_file, given):
            found = compressor.compress_documents(documents, query)
            assert ids(found) == [hit.doc_id for hit in expected]
            assert [d.metadata["scored_by"] for d in found] == [hit.scored_by for hit in expected] == \
                ["main"] * CASCADE_KEEP + ["small"] * (10 - CASCADE_KEEP)
            assert [d.metadata["relevance_score"] for d in found] == pytest.approx([hit.score for hit in expected],
                                                                                   abs=1e-4)
            assert all("probability" not in d.metadata for d in found if d.metadata["scored_by"] == "small")
        plain = ExplorerReranker(reranker=reranker, top_n=10).compress_documents(documents, query)
        unlike_plain += ids(plain) != [hit.doc_id for hit in expected]
    assert unlike_plain > 0  # the cascade orders otherwise than the reranker alone: the comparison above tells


def test_with_a_cascade_the_threshold_passes_only_what_the_reranker_scored(cascaded, reranker, small, query,
                                                                           tmp_path):
    documents = candidates_as_documents(cascaded.pipeline, query)
    # every score passes it as a number, the small reranker's too
    path = write_pipeline_file(pipeline_file(cascaded, Threshold(-1e6, "raw")), tmp_path / "cut.json")
    found = ExplorerReranker.from_pipeline_file(path, top_n=10, reranker=reranker,
                                                small_reranker=small).compress_documents(documents, query)
    assert len(found) == CASCADE_KEEP and {d.metadata["scored_by"] for d in found} == {"main"}
    unfiltered = ExplorerReranker(reranker=reranker, small_reranker=small, keep=CASCADE_KEEP,
                                  top_n=10).compress_documents(documents, query)
    assert ids(found) == ids(unfiltered)[:CASCADE_KEEP] and len(unfiltered) == 10


def test_a_cascade_half_given_or_given_to_a_file_without_one_is_refused(exported, cascaded, reranker, small,
                                                                        tmp_path, caplog):
    with pytest.raises(ConfigError, match="needs both a small reranker and keep"):
        ExplorerReranker(reranker=reranker, small_reranker=small)
    with pytest.raises(ConfigError, match="needs both a small reranker and keep"):
        ExplorerReranker(reranker=reranker, keep=5)
    with pytest.raises(ConfigError, match="keep is how many .* at least 1; got 0"):
        ExplorerReranker(reranker=reranker, small_reranker=small, keep=0)
    with pytest.raises(ConfigError, match="has no cascade, so a small reranker has nothing to do"):
        ExplorerReranker.from_pipeline_file(exported, reranker=reranker, small_reranker=small)
    content = pipeline_file(cascaded).to_json()
    content["cascade"]["small"]["fingerprint"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(content))
    with caplog.at_level(logging.WARNING, logger="explorer.integrations.langchain_compressor"):
        ExplorerReranker.from_pipeline_file(tmp_path / "other.json", reranker=reranker, small_reranker=small)
    assert len(caplog.records) == 1
    assert re.search(r"the small reranker .+ loaded here has other weights than the exported one "
                     r"\(fingerprint \w+ vs 000000000000\); it may pass other documents", caplog.messages[0])

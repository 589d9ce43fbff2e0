"""The Milvus first stage on milvus-lite (installed from requirements.txt, no network): built from the sample corpus
and compared with FAISS, reopened without inserting, the user's own collection attached with other field names
(filter, read only, dimension check), two processes on one folder, and a milvus-lite server reached by URI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from explorer.cli import main
from explorer.errors import ConfigError
from explorer.milvus_pipeline import attached_pipeline, with_corpus_collection
from explorer.retrieval.embedding import embed_corpus
from explorer.retrieval.milvus_attached import ReadOnlyCollection
from explorer.retrieval.milvus_connection import (
    MilvusSource,
    MilvusTarget,
    MilvusUnavailable,
    connect,
    disconnect,
)
from tests.browser_support import free_port
from tests.milvus_support import UserCollection, create_user_collection

ROOT = Path(__file__).resolve().parent.parent
QUERY = "the vpn drops every few minutes on my laptop"


@pytest.fixture(scope="module")
def dense(sample_pipeline):
    return sample_pipeline.with_reranker(None)


def test_milvus_returns_the_exact_faiss_top_100_for_every_test_query_and_reopens_without_inserting(
        sample, dense, settings, tmp_path):
    target = MilvusTarget(str(tmp_path / "milvus.db"))
    built = with_corpus_collection(dense, target, settings)
    stage = built.first_stage("milvus")
    assert stage.report.inserted == stage.report.vectors == len(sample.documents)
    assert stage.report.index_type == "FLAT" and stage.report.backend == "milvus-lite"
    assert stage.report.recall is not None and stage.report.recall.recall == 1.0
    queries = sample.labelled_queries("test")
    for query in queries:
        faiss = built.search(query.text, depth=100, rerank=False).first_stage
        milvus = built.search(query.text, depth=100, rerank=False, first_stage_method="milvus").first_stage
        assert [h.doc_id for h in milvus] == [h.doc_id for h in faiss], query.query_id
        assert np.allclose([h.score for h in milvus], [h.score for h in faiss], atol=1e-5)
    assert len(queries) == 53

    reopened = with_corpus_collection(dense, target, settings).first_stage("milvus")
    assert reopened.report.inserted == 0 and reopened.report.vectors == len(sample.documents)
    assert "nothing inserted" in reopened.description and "recall@100 1.000" in reopened.description


def test_a_pipeline_without_milvus_says_how_to_open_it(dense):
    with pytest.raises(ConfigError, match="Choose the Milvus first stage"):
        dense.search(QUERY, first_stage_method="milvus")


def _cli_summary(capsys, *args: str) -> tuple[dict, str]:
    """The summary ``eval`` prints, and what it said on stderr."""
    assert main(["eval", "--reranker", "none", "--split", "test", "--json", "-", *args]) == 0
    printed = capsys.readouterr()
    return json.loads(printed.out[printed.out.index("{"):]), printed.err


def test_the_command_line_evaluates_milvus_as_it_evaluates_faiss_and_a_new_process_reopens_it(tmp_path, capsys):
    folder = tmp_path / "cli.db"
    milvus, said = _cli_summary(capsys, "--first-stage", "milvus", "--milvus-uri", str(folder))
    dense, _ = _cli_summary(capsys, "--first-stage", "dense")
    assert "inserting the corpus's vectors into milvus: 510/510" in said  # not called embedding
    assert milvus["first_stage_method"] == "milvus"
    assert milvus["first_stage"]["ndcg@10"] == pytest.approx(dense["first_stage"]["ndcg@10"], abs=1e-9)
    assert milvus["first_stage"]["recall@100"] == pytest.approx(dense["first_stage"]["recall@100"], abs=1e-9)

    # another process, once this one has let the folder go: the collection is found, not rebuilt
    disconnect(MilvusTarget(str(folder.resolve())))
    ran = subprocess.run([sys.executable, "-m", "explorer", "index", "--first-stage", "milvus", "--milvus-uri",
                          str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "nothing inserted" in ran.stderr and "milvus-lite, FLAT, 510 vectors" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_second_process_on_the_same_milvus_lite_folder_is_told_to_run_a_server(tmp_path):
    folder = tmp_path / "held.db"
    connect(MilvusTarget(str(folder)))  # this process holds the folder, as the app would
    command = [sys.executable, "-m", "explorer", "search", QUERY, "--first-stage", "milvus", "--reranker", "none",
               "--milvus-uri", str(folder)]
    ran = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert ran.returncode == 2, ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr
    assert f"milvus-lite server --data-dir {folder.resolve()} --host 127.0.0.1 --port 19530" in ran.stderr
    assert "EXPLORER_MILVUS_URI=http://127.0.0.1:19530" in ran.stderr


# --- the user's own collection, attached ---------------------------------------------------------------------------

KB = UserCollection("kb", id_field="pk", title_field="heading", text_field="passage", tag_field="source",
                    vector_field="emb", metric="COSINE", integer_ids=True)


@pytest.fixture(scope="module")
def theirs(sample, bi_encoder, embedding_cache, tmp_path_factory):
    """A collection made as a user might have: integer keys ``pk``, text ``passage``, title ``heading``, vectors
    ``emb`` under a COSINE index, and a ``source`` field; plus a collection of 8-dimensional vectors."""
    from pymilvus import DataType, MilvusClient

    folder = tmp_path_factory.mktemp("user") / "theirs.db"
    client = connect(MilvusTarget(str(folder)))
    vectors = embed_corpus(bi_encoder, [doc.full_text for doc in sample.documents], embedding_cache).vectors
    create_user_collection(client, KB, sample.documents, vectors, lambda row: "runbook" if row % 2 == 0 else "wiki")
    small = MilvusClient.create_schema(auto_id=False)
    small.add_field("id", DataType.INT64, is_primary=True)
    small.add_field("text", DataType.VARCHAR, max_length=100)
    small.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
    client.create_collection("tiny", schema=small)
    client.insert("tiny", [{"id": 1, "text": "eight", "vector": [0.1] * 8}])
    key_of = {doc.doc_id: str(KB.key(row, doc)) for row, doc in enumerate(sample.documents)}
    return folder, key_of


def folder_digest(folder: Path) -> str:
    """Every file's path, size and content under ``folder`` (the lock file aside): equal iff nothing was written."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "LOCK":
            digest.update(f"{path.relative_to(folder)}\0{path.stat().st_size}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def test_an_attached_collection_with_its_own_field_names_is_searched_filtered_reranked_and_never_written(
        sample, dense, bi_encoder, reranker, theirs):
    folder, key_of = theirs
    before = folder_digest(folder)
    target = MilvusTarget(str(folder))
    source = MilvusSource(collection="kb", id_field="pk", text_field="passage", title_field="heading",
                          vector_field="emb")
    pipeline = attached_pipeline(source, target, bi_encoder, sample)
    stage = pipeline.first_stage("milvus")
    assert stage.metric == "COSINE" and stage.rows == len(sample.documents)
    assert "attached read-only" in stage.description

    found = pipeline.search(QUERY, depth=20, rerank=False, first_stage_method="milvus").first_stage
    expected = [key_of[h.doc_id] for h in dense.search(QUERY, depth=20, rerank=False).first_stage]
    assert [h.doc_id for h in found] == expected
    top = sample.documents[int(found[0].doc_id) - 1]
    fetched = pipeline.dataset.document(found[0].doc_id)
    assert (fetched.title, fetched.text) == (top.title, top.text)
    assert pipeline.dataset.document("7").text == sample.documents[6].text  # not found by a search: read by key

    reranked = pipeline.with_reranker(reranker).search(QUERY, depth=5, first_stage_method="milvus").reranked
    assert sorted(h.doc_id for h in reranked) == sorted(h.doc_id for h in found[:5])

    guessed = attached_pipeline(MilvusSource(collection="kb"), target, bi_encoder, sample).first_stage("milvus")
    assert guessed.mapping == stage.mapping  # pk, passage, emb and heading, found from the schema

    runbooks = attached_pipeline(replace(source, filter='source == "runbook"'), target, bi_encoder, sample)
    filtered = runbooks.search(QUERY, depth=20, rerank=False, first_stage_method="milvus").first_stage
    assert len(filtered) == 20 and all(int(h.doc_id) % 2 == 1 for h in filtered)  # row 0, 2, ... are runbooks
    assert 'filter source == "runbook"' in runbooks.first_stage("milvus").description

    assert not any(hasattr(ReadOnlyCollection, name) for name in ("insert", "upsert", "delete", "drop_collection"))
    assert folder_digest(folder) == before


def test_a_released_collection_as_a_new_process_finds_it_is_loaded_for_searching_and_still_not_written(
        sample, bi_encoder, theirs):
    folder, _ = theirs
    target = MilvusTarget(str(folder))
    disconnect(target)  # as the app's server finds a collection someone else made: released, not in memory
    before = folder_digest(folder)
    pipeline = attached_pipeline(MilvusSource(collection="kb"), target, bi_encoder, sample)
    assert "loaded into memory for searching" in pipeline.first_stage("milvus").description
    assert len(pipeline.search(QUERY, depth=10, rerank=False, first_stage_method="milvus").first_stage) == 10
    assert folder_digest(folder) == before


def test_an_attached_collection_of_another_dimension_or_without_the_named_field_is_refused(sample, bi_encoder, theirs):
    target = MilvusTarget(str(theirs[0]))
    with pytest.raises(ConfigError, match=r"'vector' has 8 dimensions, but the bi-encoder .*MiniLM.* makes 384"):
        attached_pipeline(MilvusSource(collection="tiny"), target, bi_encoder, sample)
    with pytest.raises(ConfigError, match=r"no field 'body' \(for the text\); it has: pk \(INT64\)"):
        attached_pipeline(MilvusSource(collection="kb", text_field="body"), target, bi_encoder, sample)
    with pytest.raises(ConfigError, match="has no collection 'nope'; it has: .*kb"):
        attached_pipeline(MilvusSource(collection="nope"), target, bi_encoder, sample)
    with pytest.raises(ConfigError, match="refused the search with the filter"):
        attached_pipeline(MilvusSource(collection="kb", filter="no_such_field == 1"), target, bi_encoder,
                          sample).search(QUERY, depth=5, rerank=False, first_stage_method="milvus")


# --- a server, by URI ----------------------------------------------------------------------------------------------

def test_a_milvus_lite_server_is_reached_by_uri_and_its_token_is_never_shown(sample, dense, settings, tmp_path):
    command = shutil.which("milvus-lite", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("the milvus-lite command is not installed (requirements.txt installs it)")
    port = free_port()
    server = subprocess.Popen([command, "server", "--data-dir", str(tmp_path / "served"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    token = "s3cret-token-for-the-test"
    target = MilvusTarget(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                connect(target)
                break
            except MilvusUnavailable as exc:
                assert token not in str(exc)
                assert time.monotonic() < deadline, f"the server did not answer: {exc}"
                time.sleep(1)
        stage = with_corpus_collection(dense, target, settings).first_stage("milvus")
        assert stage.report.backend == "Milvus server" and stage.report.index_type == "FLAT"  # 510 < HNSW_FROM
        ours = dense.with_first_stage(stage).search(QUERY, depth=50, rerank=False, first_stage_method="milvus")
        assert [h.doc_id for h in ours.first_stage] == [h.doc_id for h in dense.search(QUERY, 50, False).first_stage]
        shown = [stage.description, target.label, repr(target), repr(replace(settings, milvus_token=token))]
        assert not any(token in text for text in shown)
    finally:
        server.kill()
        server.wait(timeout=30)
    with pytest.raises(MilvusUnavailable) as refused:
        connect(MilvusTarget(f"http://127.0.0.1:{free_port()}", token))
    assert token not in str(refused.value) and "Check that the server is running" in str(refused.value)
    assert os.environ.get("MILVUS_TOKEN", "") == ""  # the test's token never reached the environment


def test_the_scale_benchmark_measures_both_backends_against_exact_search(sample, bi_encoder, embedding_cache,
                                                                         tmp_path):
    from explorer.bench.first_stage_scale import ScaleConfig, run_scale_bench

    base = np.asarray(embed_corpus(bi_encoder, [d.text for d in sample.documents], embedding_cache).vectors)
    queries = base[::50]  # sample passages' embeddings as queries
    config = ScaleConfig(vectors=4000, queries=12, milvus_queries=5)
    messages: list[str] = []
    report = run_scale_bench(base, queries, config, tmp_path, messages.append)

    faiss_row, milvus_row = report["results"]
    assert faiss_row["backend"] == "FAISS" and faiss_row["index"].startswith("HNSW") and faiss_row["queries"] == 12
    assert milvus_row["backend"] == "milvus-lite" and milvus_row["index"] == "FLAT" and milvus_row["queries"] == 5
    assert milvus_row["recall"] == 1.0 and milvus_row["worst_query_hits"] == 100  # FLAT is exact
    assert 0.9 <= faiss_row["recall"] <= 1.0 and faiss_row["worst_recall"] <= faiss_row["recall"]
    for row in (faiss_row, milvus_row):
        assert row["build_s"] > 0 and 0 < row["p50_ms"] <= row["p95_ms"]
    assert any("made 4,000 vectors" in m for m in messages)

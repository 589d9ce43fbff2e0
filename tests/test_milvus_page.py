"""The Milvus page in AppTest: a collection read (schema, guessed fields), attached with a filter, and the Search page
ranking what it returns."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.retrieval.embedding import embed_corpus
from explorer.retrieval.milvus_connection import MilvusSource, MilvusTarget, connect
from tests.milvus_support import UserCollection, create_user_collection
from ui.sidebar import MILVUS_SOURCE

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
DOCS = UserCollection("docs", id_field="doc", title_field="title", text_field="content", tag_field="team",
                      vector_field="embedding")
NUMBERED = UserCollection("numbered", id_field="n", title_field="title", text_field="content", tag_field="team",
                          vector_field="embedding", integer_ids=True)  # keys 1, 2, ...: not the data set's ids


@pytest.fixture(scope="module")
def collection_folder(sample, bi_encoder, embedding_cache) -> Path:
    """A milvus-lite folder under the temporary folder (one the pages may read), with a collection ``docs``."""
    folder = Path(tempfile.mkdtemp(prefix="milvus-page-")) / f"{uuid.uuid4().hex[:6]}.db"
    client = connect(MilvusTarget(str(folder.resolve())))
    vectors = embed_corpus(bi_encoder, [d.full_text for d in sample.documents], embedding_cache).vectors
    create_user_collection(client, DOCS, sample.documents, vectors, lambda row: "ops" if row % 3 else "dev")
    create_user_collection(client, NUMBERED, sample.documents, vectors, lambda row: "any")
    return folder.resolve()


def test_a_collection_is_read_attached_with_a_filter_and_searched(collection_folder, sample):
    app = AppTest.from_file(str(ROOT / "pages" / "11_Milvus.py"), default_timeout=300)
    app.session_state["depth"] = 10
    app.run()
    assert not app.exception, app.exception
    app.text_input(key="milvus_uri").input(str(collection_folder))
    app.text_input(key="milvus_collection").input("docs")
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert f"Collection docs: {len(sample.documents)} rows" in [h.value for h in app.subheader]
    schema = app.dataframe[0].value
    assert list(schema["field"]) == ["doc", "title", "content", "team", "embedding"]
    guessed = [app.selectbox(key=f"milvus_{role}").value for role in ("id", "text", "title", "vector")]
    assert guessed == ["doc", "content", "title", "embedding"]
    app.text_input(key="milvus_filter").input('team == "ops"')
    app.button[1].click().run()
    assert not app.exception, app.exception
    source = app.session_state[MILVUS_SOURCE]
    assert source == MilvusSource(uri=str(collection_folder), collection="docs", id_field="doc", text_field="content",
                                  title_field="title", vector_field="embedding", filter='team == "ops"')

    search = AppTest.from_file(str(ROOT / "pages" / "0_Search.py"), default_timeout=300)
    search.session_state["depth"] = 10
    search.session_state["first_stage"] = "milvus"
    search.session_state[MILVUS_SOURCE] = source
    search.run()
    assert not search.exception, search.exception
    shown = " ".join(c.value for c in search.caption)
    assert "Collection **docs**" in shown and 'team == "ops"' in shown
    devs = {d.doc_id for i, d in enumerate(sample.documents) if i % 3 == 0}
    first_stage = search.dataframe[0].value
    ids = list(first_stage["doc_id"]) if "doc_id" in first_stage else list(first_stage.iloc[:, 1])
    assert ids and not set(ids) & devs  # the filter kept only ops documents


def test_a_missing_collection_and_a_folder_outside_the_data_folders_are_refused(collection_folder):
    app = AppTest.from_file(str(ROOT / "pages" / "11_Milvus.py"), default_timeout=300).run()
    app.text_input(key="milvus_uri").input(str(collection_folder))
    app.text_input(key="milvus_collection").input("nope")
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert "has no collection 'nope'; it has: docs, numbered" in app.error[0].value
    app.text_input(key="milvus_uri").input("/etc/milvus.db")
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert "reads files only under its data folders" in app.error[0].value
    assert not Path("/etc/milvus.db").exists()
    app.text_input(key="milvus_uri").input("http://203.0.113.5:19530")  # a host this server was not told to reach
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert "not to '203.0.113.5'" in app.error[0].value and "EXPLORER_MILVUS_HOSTS" in app.error[0].value


def test_a_server_host_is_allowed_on_this_machine_and_where_the_settings_say(settings):
    from dataclasses import replace

    from explorer.errors import ConfigError
    from explorer.milvus_pipeline import check_server_allowed

    check_server_allowed(MilvusTarget("http://127.0.0.1:19530"), settings)
    check_server_allowed(MilvusTarget("/any/folder/milvus.db"), settings)  # folders are checked as typed paths are
    with pytest.raises(ConfigError, match="EXPLORER_MILVUS_HOSTS"):
        check_server_allowed(MilvusTarget("https://milvus.example.com:19530"), settings)
    check_server_allowed(MilvusTarget("https://milvus.example.com:19530"),
                         replace(settings, milvus_hosts=("milvus.example.com",)))
    check_server_allowed(MilvusTarget("http://milvus.example.com:443"),
                         replace(settings, milvus_uri="https://milvus.example.com:19530"))
    from explorer.settings import Settings

    assert Settings.from_env({"EXPLORER_MILVUS_HOSTS": " Milvus.Example.com , b "}).milvus_hosts == (
        "milvus.example.com", "b")


def test_the_attention_and_judge_pages_read_an_attached_collections_documents_by_its_own_keys(collection_folder,
                                                                                             sample):
    from ui.attention_link import DOC_KEY, QUERY_KEY

    attached = {"first_stage": "milvus", MILVUS_SOURCE: MilvusSource(uri=str(collection_folder), collection="numbered")}
    attention = AppTest.from_file(str(ROOT / "pages" / "5_Attention.py"), default_timeout=300)
    for key, value in {**attached, QUERY_KEY: "offboarding a contractor", DOC_KEY: "3"}.items():
        attention.session_state[key] = value
    attention.run()
    assert not attention.exception, attention.exception
    assert not attention.error, [e.value for e in attention.error]
    assert f"3: {sample.documents[2].title}" in [t.value for t in attention.text]

    judge = AppTest.from_file(str(ROOT / "pages" / "9_Judge.py"), default_timeout=300)
    for key, value in {**attached, "rater": "ana", "judge_query": "offboarding a contractor", "depth": 10}.items():
        judge.session_state[key] = value
    judge.run()
    assert not judge.exception, judge.exception
    assert not judge.error, [e.value for e in judge.error]
    shown = [t.value for t in judge.text]
    assert any(text in shown for text in (d.text for d in sample.documents))  # a pooled document, read by its key

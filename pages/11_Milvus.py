"""Milvus page: where the Milvus first stage runs, and attaching a collection you already have (read only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.loading.paths import check_readable
from explorer.milvus_pipeline import check_server_allowed, milvus_target
from explorer.retrieval.milvus_attached import CollectionOverview, read_collection
from explorer.retrieval.milvus_connection import MilvusSource, MilvusTarget, connect
from ui import cache
from ui.sidebar import MILVUS_SOURCE, PENDING_FIRST_STAGE, sidebar

choices = sidebar()
st.title("Milvus")
settings = cache.settings()
current: MilvusSource = st.session_state.get(MILVUS_SOURCE, MilvusSource())
st.write("The Milvus first stage searches the bi-encoder's vectors in Milvus: by default the corpus's own "
         "collection, built once in milvus-lite in the workspace (no server), or on the server "
         "`EXPLORER_MILVUS_URI` names. Attach a collection you already have to rerank what your index returns; it "
         "is only read, never written.")
st.caption(f"Now: {milvus_target(current, settings).label}" + (
    f", collection **{current.collection}** (attached)" if current.attached else ", this corpus's own collection")
    + ". A server's token is read from the environment variable MILVUS_TOKEN of whoever runs this app, never typed "
      "here.")


def target_of(uri: str) -> MilvusTarget:
    """The typed URI's target: a local milvus-lite folder only under the folders this server reads, a server only on
    the hosts it is allowed to connect to."""
    target = milvus_target(MilvusSource(uri=uri), settings)
    if target.is_local:
        check_readable(target.uri, settings.readable_roots)
    check_server_allowed(target, settings)
    return target


with st.form("milvus_where"):
    uri = st.text_input("Milvus URI", value=current.uri,
                        placeholder=settings.milvus_uri or str(settings.milvus_lite_path),
                        help="http://host:19530 for a Milvus server or cluster; a folder for milvus-lite; blank for "
                             "the default shown.", key="milvus_uri")
    collection = st.text_input("Collection to attach (blank: this corpus's own, built here)", value=current.collection,
                               key="milvus_collection")
    look = st.form_submit_button("Read the collection")

if look:
    st.session_state["_milvus_typed"] = (uri.strip(), collection.strip())
typed = st.session_state.get("_milvus_typed")
if typed is not None:
    uri, name = typed
    try:
        target = target_of(uri)
        if not name:
            st.session_state[MILVUS_SOURCE] = MilvusSource(uri=uri)
            st.session_state[PENDING_FIRST_STAGE] = "milvus"
            st.session_state.pop("_milvus_typed")
            st.success(f"The Milvus first stage will build this corpus's collection in {target.label}.")
            st.stop()
        with st.spinner(f"Reading {name} at {target.label}…"):
            overview: CollectionOverview = read_collection(connect(target), name, target.label)
    except ExplorerError as exc:
        st.error(str(exc))
        st.stop()
    st.subheader(f"Collection {overview.name}: {overview.rows:,} rows")
    st.dataframe(pd.DataFrame([{"field": f.name, "type": f.kind, "dimension": f.dimension, "primary key": f.primary}
                               for f in overview.fields]), hide_index=True, key="milvus_schema")
    names = [f.name for f in overview.fields]
    texts = [f.name for f in overview.fields if f.is_text]
    vectors = [f.name for f in overview.fields if f.is_vector]

    def position(options: list[str], wanted: str) -> int:
        return options.index(wanted) if wanted in options else 0

    with st.form("milvus_fields"):
        id_field = st.selectbox("Id field", names, index=position(names, overview.guessed.id_field), key="milvus_id")
        text_field = st.selectbox("Text field", texts or names,
                                  index=position(texts or names, overview.guessed.text_field), key="milvus_text")
        title_options = ["(none)"] + texts
        title_field = st.selectbox("Title field (optional)", title_options,
                                   index=position(title_options, overview.guessed.title_field), key="milvus_title")
        vector_field = st.selectbox("Vector field", vectors or names,
                                    index=position(vectors or names, overview.guessed.vector_field),
                                    key="milvus_vector")
        expression = st.text_input("Filter (optional)", value=current.filter if current.collection == name else "",
                                   placeholder='source == "runbook"',
                                   help="A Milvus boolean expression applied to every search; shown with the results.",
                                   key="milvus_filter")
        attach = st.form_submit_button("Attach and use it as the first stage")
    if attach:
        st.session_state[MILVUS_SOURCE] = MilvusSource(
            uri=uri, collection=name, id_field=id_field, text_field=text_field,
            title_field="" if title_field == "(none)" else title_field, vector_field=vector_field,
            filter=expression.strip())
        st.session_state[PENDING_FIRST_STAGE] = "milvus"
        st.success(f"Attached {name}. The Search page now ranks what it returns; the query is embedded with "
                   f"{choices.bi_encoder}, whose dimension is checked against {vector_field!r} on the first search.")

if current.attached and st.button("Detach (back to this corpus's own collection)"):
    st.session_state[MILVUS_SOURCE] = MilvusSource(uri=current.uri)
    st.session_state.pop("_milvus_typed", None)
    st.rerun()

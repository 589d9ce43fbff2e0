"""Attention page: why the reranker scored a document as it did, from its attention on the (query, document) pair."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.attention.bertviz_views import drawn_document_tokens, head_view_html, model_view_html
from explorer.attention.charts import attention_heatmap_figure
from explorer.attention.highlight import highlighted_document_html
from explorer.attention.rollout import ROLLOUT, query_to_document
from explorer.attention.words import top_document_words, window
from explorer.errors import ExplorerError
from explorer.records import Dataset
from ui import cache
from ui.attention_link import DOC_KEY, QUERY_KEY, current_pair, remember_pair
from ui.page_start import start_page, with_attached_documents

VIEWS = ("Heatmap and words", "bertviz head view", "bertviz model view")
HEATMAP_DOCUMENT_TOKENS = 100  # more columns than this cannot be read; a window around the most-attended part
TOP_WORDS = 10

choices, data = start_page("See why: query-document attention",
                           "Which document words the query attends to inside the reranker. Attention shows where the "
                           "model looks, not on its own why it scores as it does: read it beside the ranks and labels.")
if not choices.reranker:
    st.info("Attention is read from the reranker (the cross-encoder): choose one in the sidebar.")
    st.stop()


def default_pair(dataset: Dataset) -> tuple[str, str]:
    """A labelled query and its best-labelled document, so the page shows something on a first visit."""
    queries = dataset.labelled_queries("test") or dataset.labelled_queries()
    if not queries:
        return "", dataset.documents[0].doc_id if dataset.documents else ""
    labels = dataset.labels_for(queries[0].query_id)
    return queries[0].text, max(labels, key=lambda doc_id: labels[doc_id])


try:
    data = with_attached_documents(choices, data)  # an attached Milvus collection's documents, by its keys
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
current_pair(default_pair(data), choices.dataset_path)
left, right = st.columns([3, 2])
query = left.text_input("Query", key=QUERY_KEY)
doc_id = right.text_input("Document id", key=DOC_KEY, help="Pick a row on the Search page to fill both.").strip()
remember_pair(query, doc_id, choices.dataset_path)
if not query.strip():
    st.info("Type a query to see what it attends to.")
    st.stop()
try:
    document = data.document(doc_id)
except KeyError:
    st.error(f"There is no document {doc_id!r} in this data set. Select a row on the Search page, or enter a "
             "document id from the Data set page.")
    st.stop()
st.text(f"{doc_id}: {document.title or '(untitled)'}")  # document text is shown as text, never as markup
if choices.passages is not None:
    st.caption("Passage splitting is on: the reranker read the best passage of this document; here it reads the "
               "document from its start.")

try:
    reranker = cache.reranker(choices.reranker, choices.device, choices.trust_remote_code)
    record = cache.pair_attention(choices.reranker, choices.device, choices.trust_remote_code, query,
                                  document.full_text)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
st.caption(f"Reranker: **{reranker.info.loaded}** · {record.layers} layers × {record.heads} heads · "
           f"{len(record.tokens)} tokens read, the document from token {record.sentence_b_start}")
for note in record.notes:
    st.caption(f"✂ {note}")

view = st.radio("Show", VIEWS, horizontal=True, key="attention_view")
if view == VIEWS[0]:
    layer_column, head_column = st.columns(2)
    layer = layer_column.selectbox("Layer", [ROLLOUT, *range(record.layers)], key="attention_layer",
                                   format_func=lambda v: "all layers (attention rollout)" if v == ROLLOUT else f"layer {v}",
                                   help="Rollout follows attention through every layer, with the residual path.")
    head = head_column.selectbox("Head", [None, *range(record.heads)], key="attention_head",
                                 format_func=lambda v: "average of the heads" if v is None else f"head {v}",
                                 disabled=layer == ROLLOUT, help="Rollout averages the heads of each layer.")
    head = None if layer == ROLLOUT else head
    try:
        block = query_to_document(record, layer, head, max_document_tokens=HEATMAP_DOCUMENT_TOKENS)
        words = top_document_words(record, TOP_WORDS, layer, head)
    except ExplorerError as exc:
        st.error(str(exc))
        st.stop()
    st.plotly_chart(attention_heatmap_figure(block), key="attention_heatmap")
    st.subheader(f"The {len(words)} document words the query attends to most")
    st.caption(f"{block.description}; a word's weight adds up its wordpieces. Darker means more attention; the "
               "small number is its rank.")
    st.iframe(highlighted_document_html(record, words), height="content")
    st.dataframe(pd.DataFrame([{"rank": rank, "word": w.word, "attention": round(w.weight, 4)}
                               for rank, w in enumerate(words, start=1)]), hide_index=True, key="attention_words")
else:
    kind = "head" if view == VIEWS[1] else "model"
    try:
        shown = window(record, drawn_document_tokens(record, kind))
        page = head_view_html(shown) if kind == "head" else model_view_html(shown)
    except ExplorerError as exc:
        st.error(str(exc))
        st.stop()
    for note in shown.notes[len(record.notes):]:
        st.caption(f"✂ {note}")
    st.caption("Query = sentence A, document = sentence B (pick the pair in the view's Attention menu). "
               + ("Hover a token to see its lines; click a colour to show or hide a head." if kind == "head"
                  else "Click a thumbnail to enlarge it."))
    st.iframe(page, height="content")

"""How a page that works on the chosen data set starts: the sidebar, the data set, models that load."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from explorer.errors import ExplorerError
from explorer.records import Dataset, FetchedDataset
from explorer.spec import OpenPipeline
from ui import cache
from ui.fallback import with_loadable_models
from ui.sidebar import SidebarChoices, sidebar

NO_DATASET = "Enter the folder of a BEIR-layout data set in the sidebar (corpus.jsonl, queries.jsonl, qrels/)."
NO_LABELS = ("This data set has no labels, so nothing can be scored. Load a labels file (TREC qrels or BEIR TSV) "
             "on the Load data page.")


def start_page(title: str, caption: str, needs_labels: bool = False) -> tuple[SidebarChoices, Dataset]:
    """Draw the sidebar and the title; stop the page with a message when there is nothing to work on."""
    choices = sidebar()
    st.title(title)
    st.caption(caption)
    if not choices.dataset_path:
        st.info(NO_DATASET)
        st.stop()
    try:
        data = cache.labelled_dataset(choices.dataset_path)
        choices = with_loadable_models(choices)
    except ExplorerError as exc:
        st.error(str(exc))
        st.stop()
    if needs_labels and not data.splits:
        st.warning(NO_LABELS)
        st.stop()
    return choices, data


def with_attached_documents(choices: SidebarChoices, data: Dataset, opened: OpenPipeline | None = None) -> Dataset:
    """``data``, or, when the first stage is a Milvus collection attached on the Milvus page, ``data``'s queries and
    labels with the documents looked up in that collection (its keys are the document ids the stages return)."""
    if choices.first_stage_method != "milvus" or not choices.milvus.attached:
        return data
    fetched = (opened or cache.opened(choices.spec())).pipeline.dataset
    if not isinstance(fetched, FetchedDataset):
        return data
    return replace(fetched, queries=data.queries, qrels_by_split=data.qrels_by_split)


def split_picker(data: Dataset, key: str, column=st) -> str:
    """A labelled split, ``test`` first when there is one."""
    return column.selectbox("Labelled split", data.splits,
                            index=data.splits.index("test") if "test" in data.splits else 0, key=key)

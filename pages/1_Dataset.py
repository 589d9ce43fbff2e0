"""Data set page: what is loaded, its metadata fields, its labelled queries and its documents."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.errors import ExplorerError
from explorer.judging.dataset_copy import dataset_copy
from explorer.judging.datasets import dataset_key
from explorer.loading.store import saved_report
from explorer.views.dataset_summary import (
    document_table,
    field_table,
    fields_with_unreadable_values,
    labelled_query_table,
    summarise,
    unreadable_summary,
    unreadable_table,
)
from ui import cache
from ui.load_report import show_report
from ui.plain_text import markdown_literal
from ui.sidebar import sidebar
from ui.signals_panel import field_summaries
from ui.status import length_report

choices = sidebar()
st.title("Data set")
if not choices.dataset_path:
    st.info("Enter the folder of a BEIR-layout data set in the sidebar.")
    st.stop()
try:
    data = cache.dataset(choices.dataset_path)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

summary = summarise(data)
st.caption(f"Folder: {choices.dataset_path}")
report = saved_report(Path(choices.dataset_path))
if report is not None:
    with st.expander(f"Load report ({report.warnings:,} warning(s))", expanded=bool(report.warnings)):
        show_report(report, counts=False)  # the data set's counts are shown once, below
cols = st.columns(4)
cols[0].metric("Documents", f"{summary.documents:,}")
cols[1].metric("Queries", f"{summary.queries:,}")
cols[2].metric("Labelled queries", f"{summary.labelled_queries:,}")
cols[3].metric("Labels", f"{summary.labels:,}")
st.caption("Labels by grade: " + ", ".join(f"{g}: {n}" for g, n in summary.labels_by_grade.items())
           + " · queries by split: " + ", ".join(f"{s}: {n}" for s, n in summary.queries_by_split.items()))

with st.expander("Copy this data set with the judgements made here"):
    st.caption("A zip in BEIR layout: the data set's files, the queries typed or imported for judging, the "
               "judgements as the split 'judged-here' (one label per pair, by the data set's rule) and every "
               "rater's own grades in judgements.tsv.")
    key = dataset_key(choices.dataset_path)
    if st.button("Prepare the copy", key="copy_prepare"):
        try:
            st.session_state["_dataset_copy"] = (choices.dataset_path, dataset_copy(Path(choices.dataset_path),
                                                                                   cache.judgements(), key))
        except ExplorerError as exc:
            st.error(str(exc))
    prepared = st.session_state.get("_dataset_copy")
    if prepared and prepared[0] == choices.dataset_path:
        st.download_button(f"Download {key}.zip ({len(prepared[1]) / 1024:,.0f} KB)", prepared[1],
                           file_name=f"{key}.zip", mime="application/zip", key="copy_download")

length_report(choices)
st.subheader("Metadata fields")
fields = field_summaries(choices.dataset_path)  # read once per data set, shared with the sidebar's signals
if not fields:
    st.caption("No document has metadata: the corpus holds ids, titles and texts only.")
else:
    st.caption("Each field's kind is read from its values: a date or a number when most values read as one.")
    st.dataframe(field_table(fields), hide_index=True, key="field_table")
    for number, field in enumerate(fields_with_unreadable_values(fields)):
        st.warning(markdown_literal(unreadable_summary(field)))
        with st.expander(markdown_literal(f"Unreadable values of {field.name!r} ({len(field.bad_values):,})")):
            st.dataframe(unreadable_table(field), hide_index=True, key=f"unreadable_table_{number}")
st.subheader("Labelled queries")
st.dataframe(labelled_query_table(data), hide_index=True, key="query_table")
st.subheader("Documents")
st.dataframe(document_table(data), hide_index=True, key="document_table",
             column_config={"text": st.column_config.TextColumn(width="large")})

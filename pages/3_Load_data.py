"""Load data page: bring a corpus (and queries and labels) in any supported format, with a report of problems.

A failed load says what to fix and leaves the data set being explored as it was.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.errors import ExplorerError
from explorer.loading import (
    ColumnMapping,
    LoadSpec,
    TextSource,
    format_from_name,
    guess_mapping,
    peek_columns,
    read_dataset,
)
from explorer.loading.problems import ProblemLog
from explorer.loading.store import save_dataset
from ui import cache
from ui.load_report import show_report
from ui.sidebar import LOADED_PREFIX, select_dataset_next_run, sidebar
from ui.status import length_report

KINDS = {
    "table": "Table file: JSONL, CSV, TSV or Parquet",
    "beir": "BEIR folder (corpus.jsonl, queries.jsonl, qrels/)",
    "text_zip": "Zip of .txt / .md files",
    "text_folder": "Folder of .txt / .md files on this machine",
    "lines": "Plain text, one document per line",
    "ir_datasets": "ir_datasets id",
}
UPLOAD_KINDS = {"table", "text_zip", "lines"}
FOLDER_KINDS = {"beir", "text_folder"}
AUTO = "(from the file name)"
NONE = "(none)"

choices = sidebar()
settings = cache.settings()
st.title("Load data")
st.caption(f"Exploring now: **{choices.dataset_label}**. A load that fails leaves it as it is. "
           f"Uploads up to {settings.max_upload_mb} MB; larger files load from a path on this machine.")

kind = st.radio("Format", list(KINDS), format_func=KINDS.get, key="load_kind")


def file_or_path(label: str, key: str) -> TextSource | None:
    """An uploaded file (read in place, not copied) or a path on this machine."""
    upload = st.file_uploader(label, key=f"upload_{key}")
    path = st.text_input(f"…or a path on this machine ({label.lower()})", key=f"path_{key}").strip()
    if upload is not None:
        return TextSource(name=upload.name, stream=upload, size=upload.size)
    if path:
        return TextSource.from_path(path)
    return None


corpus = folder = irds_id = None
if kind in UPLOAD_KINDS:
    corpus = file_or_path("Corpus file", f"corpus_{kind}")
elif kind in FOLDER_KINDS:
    folder_text = st.text_input("Folder on this machine", key=f"folder_{kind}").strip()
    folder = Path(folder_text).expanduser() if folder_text else None
else:
    irds_id = st.text_input("ir_datasets id", key="irds_id", placeholder="cranfield, beir/scifact/test, …").strip()
    st.caption("ir_datasets downloads a data set the first time. Offline, it reads files already placed under "
               "IR_DATASETS_HOME (default ~/.ir_datasets).")

table_format = None
mapping = None
if kind == "table" and corpus is not None:
    fmt_choice = st.selectbox("Table format", [AUTO, "jsonl", "csv", "tsv", "parquet"], key="table_format")
    table_format = format_from_name(corpus.name) if fmt_choice == AUTO else fmt_choice
    if table_format is not None:
        try:
            columns = peek_columns(corpus, table_format, ProblemLog())
        except ExplorerError as exc:
            st.error(str(exc))
            columns = []
        if columns:
            guess = guess_mapping(columns)
            st.caption("Map the columns. Every other column is kept as metadata.")
            cols = st.columns(3)
            text_col = cols[0].selectbox("Text column", columns, key="map_text",
                                         index=columns.index(guess.text) if guess else None,
                                         placeholder="choose the text column")
            id_col = cols[1].selectbox("Id column", [NONE, *columns], key="map_id",
                                       index=(columns.index(guess.id) + 1) if guess and guess.id else 0)
            title_col = cols[2].selectbox("Title column", [NONE, *columns], key="map_title",
                                          index=(columns.index(guess.title) + 1) if guess and guess.title else 0)
            if text_col is not None:
                mapping = ColumnMapping(text=text_col, id=None if id_col == NONE else id_col,
                                        title=None if title_col == NONE else title_col)

queries = labels = None
split = "test"
if kind not in {"beir", "ir_datasets"}:
    with st.expander("Queries and relevance labels (optional)"):
        queries = file_or_path("Queries file (JSONL, TSV or CSV)", "queries")
        labels = file_or_path("Labels file (TREC qrels or BEIR TSV)", "labels")
        split = st.text_input("Split name for these labels", value="test", key="labels_split").strip() or "test"

default_name = Path(corpus.name).stem if corpus else (folder.name if folder else (irds_id or ""))
name = st.text_input("Name", key="load_name", placeholder=default_name or "my corpus").strip() or default_name

if st.button("Load", type="primary", key="load_button"):
    spec = LoadSpec(kind=kind, name=name or "corpus", folder=folder, corpus=corpus, table_format=table_format,
                    mapping=mapping, ir_datasets_id=irds_id, queries=queries, labels=labels, labels_split=split,
                    max_upload_mb=settings.max_upload_mb)
    bar = st.progress(0.0, text="Reading…")

    def show_progress(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0, text=f"Reading: {done / 1e6:,.1f} of {total / 1e6:,.1f} MB")

    try:
        result = read_dataset(spec, progress=show_progress)
        saved = save_dataset(result, settings.cache_dir / "datasets")
    except ExplorerError as exc:
        bar.empty()
        st.error(f"Not loaded. {exc}")
        st.session_state.pop("last_report", None)
    else:
        bar.empty()
        st.session_state["last_report"] = result.report
        select_dataset_next_run(LOADED_PREFIX + saved.name)
        st.rerun()

if "last_report" in st.session_state:
    st.subheader("Last load")
    st.caption(f"Now selected in the sidebar: {choices.dataset_label}")
    show_report(st.session_state["last_report"])
    length_report(choices)

"""Load data page: bring a corpus (and queries and labels) in any supported format, with a report of problems.

A failed load says what to fix and leaves the data set being explored as it was.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.errors import ExplorerError
from explorer.loading import (
    DELIMITER_CHOICES,
    ColumnMapping,
    LoadSpec,
    TextSource,
    delimiter_choice,
    format_from_name,
    guess_mapping,
    peek_columns,
    read_dataset,
)
from explorer.loading.paths import check_readable
from explorer.loading.problems import ProblemLog
from explorer.loading.store import save_dataset
from ui import cache
from ui.load_report import show_report
from ui.sidebar import LOADED_PREFIX, not_private, remember_my_dataset, select_dataset_next_run, sidebar
from ui.status import length_report

KINDS = {
    "table": "Table file: JSONL, CSV, TSV or Parquet",
    "beir": "BEIR folder (corpus.jsonl, queries.jsonl, qrels/), or a zip of one",
    "text_zip": "Zip of .txt / .md files",
    "text_folder": "Folder of .txt / .md files on this machine",
    "lines": "Plain text, one document per line",
    "ir_datasets": "ir_datasets id",
}
UPLOAD_KINDS = {"table", "text_zip", "lines"}
AUTO = "(from the file name)"
SNIFFED = "(sniffed)"
NONE = "(none)"

choices = sidebar()
settings = cache.settings()
st.title("Load data")
st.caption(f"Exploring now: **{choices.dataset_label}**. A load that fails leaves it as it is. "
           f"Uploads up to {settings.max_upload_mb} MB; a BEIR folder or a folder of text files uploads as a zip. "
           "Larger files load from a path on the server, under its data folders (the setting EXPLORER_DATA_DIRS "
           "names them).")

kind = st.radio("Format", list(KINDS), format_func=KINDS.get, key="load_kind")


# the typed paths refused in this run: each has its error box already, so Load reads nothing (and does not say
# "no folder given" for a folder that was given and refused)
refused: list[str] = []


def readable(path: str) -> Path | None:
    """``path`` when it lies under the server's data folders and not in another session's private data set; else
    None, with the reason shown."""
    try:
        return not_private(check_readable(path, settings.readable_roots))
    except ExplorerError as exc:
        st.error(str(exc))
        refused.append(path)
        return None


def uploaded(label: str, key: str) -> TextSource | None:
    """The file uploaded in the box ``key``, read in place (not copied)."""
    upload = st.file_uploader(label, key=key)
    return TextSource(name=upload.name, stream=upload, size=upload.size) if upload is not None else None


def file_or_path(label: str, key: str) -> TextSource | None:
    """An uploaded file (read in place, not copied) or a path under the server's data folders."""
    upload = uploaded(label, f"upload_{key}")
    path = st.text_input(f"…or a path on the server ({label.lower()})", key=f"path_{key}").strip()
    if upload is not None:
        return upload
    found = readable(path) if path else None
    return TextSource.from_path(found) if found else None


corpus = folder = irds_id = None
if kind in UPLOAD_KINDS:
    corpus = file_or_path("Corpus file", f"corpus_{kind}")
elif kind == "beir":
    corpus = uploaded("Zip of a BEIR folder (corpus.jsonl, queries.jsonl, qrels/; at the top or in one folder)",
                      "upload_beir_zip")
    folder_text = st.text_input("…or a folder on the server", key="folder_beir").strip()
    folder = readable(folder_text) if folder_text and corpus is None else None
elif kind == "text_folder":
    folder_text = st.text_input("Folder on the server", key="folder_text_folder").strip()
    folder = readable(folder_text) if folder_text else None
else:
    irds_id = st.text_input("ir_datasets id", key="irds_id", placeholder="cranfield, beir/scifact/test, …").strip()
    st.caption("ir_datasets downloads a data set the first time. Offline, it reads files already placed under "
               "IR_DATASETS_HOME (default ~/.ir_datasets).")

table_format = None
mapping = None
delimiter = None
if kind == "table" and corpus is not None:
    fmt_choice = st.selectbox("Table format", [AUTO, "jsonl", "csv", "tsv", "parquet"], key="table_format")
    table_format = format_from_name(corpus.name) if fmt_choice == AUTO else fmt_choice
    if table_format in ("csv", "tsv"):
        delimiter_name = st.selectbox("Delimiter", [SNIFFED, *DELIMITER_CHOICES], key="table_delimiter",
                                      help="Sniffed from the first lines unless you choose one.")
        delimiter = delimiter_choice(None if delimiter_name == SNIFFED else delimiter_name)
    if table_format is not None:
        try:
            columns = peek_columns(corpus, table_format, ProblemLog(), delimiter=delimiter)
        except ExplorerError as exc:
            st.error(str(exc))
            columns = []
        if columns:
            guess = guess_mapping(columns)
            st.caption("Map the columns. The columns chosen under Metadata columns are kept as metadata.")
            cols = st.columns(3)
            text_col = cols[0].selectbox("Text column", columns, key="map_text",
                                         index=columns.index(guess.text) if guess else None,
                                         placeholder="choose the text column")
            id_col = cols[1].selectbox("Id column", [NONE, *columns], key="map_id",
                                       index=(columns.index(guess.id) + 1) if guess and guess.id else 0)
            title_col = cols[2].selectbox("Title column", [NONE, *columns], key="map_title",
                                          index=(columns.index(guess.title) + 1) if guess and guess.title else 0)
            roles = {text_col, id_col, title_col}
            others = [column for column in columns if column not in roles]
            offered = st.session_state.get("_map_metadata_offered")
            if offered is not None and offered != others and "map_metadata" in st.session_state:
                # another role column or file: offer every other column again, less those taken out by hand
                taken_out = set(offered) - set(st.session_state["map_metadata"])
                st.session_state["map_metadata"] = [column for column in others if column not in taken_out]
            st.session_state["_map_metadata_offered"] = others
            chosen = st.multiselect("Metadata columns", others, key="map_metadata",
                                    default=None if "map_metadata" in st.session_state else others,
                                    help="Kept with each document, shown on the Data set page. A JSON object under "
                                         "'metadata' gives a field per key.")
            if text_col is not None:
                # every column offered kept: None keeps columns the first rows did not show as well (JSONL)
                kept = None if set(others) <= set(chosen) else tuple(c for c in chosen if c not in roles)
                mapping = ColumnMapping(text=text_col, id=None if id_col == NONE else id_col,
                                        title=None if title_col == NONE else title_col, metadata=kept)

queries = labels = None
split = "test"
if kind not in {"beir", "ir_datasets"}:
    with st.expander("Queries and relevance labels (optional)"):
        queries = file_or_path("Queries file (JSONL, TSV or CSV)", "queries")
        labels = file_or_path("Labels file (TREC qrels or BEIR TSV)", "labels")
        split = st.text_input("Split name for these labels", value="test", key="labels_split").strip() or "test"

default_name = Path(corpus.name).stem if corpus else (folder.name if folder else (irds_id or ""))
name = st.text_input("Name", key="load_name", placeholder=default_name or "my corpus").strip() or default_name

share = st.checkbox("Share with everyone on this server", key="load_share", value=settings.shared_workspace,
                    disabled=settings.shared_workspace,
                    help="Unshared, the data set is listed only in this browser session. "
                         + ("This server is a shared team workspace (EXPLORER_SHARED_WORKSPACE): every data set is "
                            "listed for everyone." if settings.shared_workspace else ""))

if st.button("Load", type="primary", key="load_button") and not refused:
    spec = LoadSpec(kind=kind, name=name or "corpus", folder=folder, corpus=corpus, table_format=table_format,
                    mapping=mapping, delimiter=delimiter, ir_datasets_id=irds_id, queries=queries, labels=labels, labels_split=split,
                    max_upload_mb=settings.max_upload_mb, max_document_mb=settings.max_document_mb,
                    readable_roots=settings.readable_roots)
    bar = st.progress(0.0, text="Reading…")

    def show_progress(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0, text=f"Reading: {done / 1e6:,.1f} of {total / 1e6:,.1f} MB")

    try:
        result = read_dataset(spec, progress=show_progress)
        saved = save_dataset(result, settings.cache_dir / "datasets", shared=share or settings.shared_workspace)
    except ExplorerError as exc:
        bar.empty()
        st.error(f"Not loaded. {exc}")
        st.session_state.pop("last_report", None)
    else:
        bar.empty()
        st.session_state["last_report"] = result.report
        remember_my_dataset(saved)
        select_dataset_next_run(LOADED_PREFIX + saved.name)
        st.rerun()

if "last_report" in st.session_state:
    st.subheader("Last load")
    st.caption(f"Now selected in the sidebar: {choices.dataset_label}")
    show_report(st.session_state["last_report"])
    length_report(choices)

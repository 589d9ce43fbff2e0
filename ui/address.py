"""The page's address carries what a reload must give back: the data set, the first stage, the reranker, the query
and the rater (Streamlit query parameters). A reload is a new browser session, so it is read once per session,
before the sidebar draws its widgets, and written on every run after them.

A private data set opens from its address only with its link key (``explorer.loading.access``); a shared one, the
sample data or a folder the server may read opens as the sidebar would open it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.loading.access import dataset_access_key, opens
from explorer.loading.store import is_shared

READ = "_address_read"
# the Search page's query, kept apart from its widget so every page's address can carry it
QUERY = "_address_query"
# why the address's data set was not opened, for the page to say once
NOTE = "_address_note"
SAMPLE = "sample"
PARAMETERS = ("data", "key", "folder", "first_stage", "reranker", "q", "rater")


def read_once(cache_dir: Path, labels: dict[str, str]) -> None:
    """The address's choices put into the session's widget values, once per session. ``labels``: the sidebar's
    names for the sample, a saved data set's prefix, the typed-folder choice, "Other" and "Remote" (see
    ``ui.sidebar``)."""
    if st.session_state.get(READ):
        return
    st.session_state[READ] = True
    params = st.query_params
    wanted = params.get("data", "")
    if wanted == SAMPLE:
        st.session_state["dataset_choice"] = labels["sample"]
    elif wanted == "folder" and params.get("folder"):
        st.session_state["dataset_choice"] = labels["folder"]
        st.session_state["dataset_path"] = params["folder"]
    elif wanted:
        _open_saved(cache_dir, wanted, params.get("key", ""), labels["loaded"])
    if params.get("first_stage"):
        st.session_state["first_stage"] = params["first_stage"]
    if params.get("reranker"):
        _choose_reranker(params["reranker"], labels)
    if params.get("rater"):
        st.session_state["rater"] = params["rater"][:60]
    if params.get("q"):  # into the Search page's box, which keeps a value set before it is drawn
        st.session_state[QUERY] = st.session_state["query"] = params["q"][:2000]


def _open_saved(cache_dir: Path, name: str, key: str, prefix: str) -> None:
    from ui.sidebar import remember_my_dataset

    folder = cache_dir / "datasets" / name
    if "/" in name or name.startswith(".") or not (folder / "corpus.jsonl").is_file():
        st.session_state[NOTE] = "The data set in this page's address is no longer on this server; load it again."
        return
    if not is_shared(folder) and not opens(cache_dir, name, key):
        st.session_state[NOTE] = ("The data set in this page's address was loaded privately, and the address has "
                                  "no key that opens it. Load it again, or ask whoever loaded it for the full link.")
        return
    remember_my_dataset(folder)
    st.session_state["dataset_choice"] = prefix + name


def _choose_reranker(name: str, labels: dict[str, str]) -> None:
    from explorer.remote.names import is_remote_name
    from ui.sidebar import RERANKERS

    if name in RERANKERS:
        st.session_state["rr_choice"] = name
    elif is_remote_name(name):
        st.session_state["rr_choice"], st.session_state["rr_remote"] = labels["remote"], name
    else:
        st.session_state["rr_choice"], st.session_state["rr_other"] = labels["other"], name


def write(cache_dir: Path, dataset_label: str, dataset_path: str, labels: dict[str, str], first_stage: str,
          reranker: str | None, rater: str) -> None:
    """The current choices into the address (only the parameters that changed, so the browser's history is not
    rewritten on every run)."""
    wanted: dict[str, str] = {"first_stage": first_stage, "reranker": reranker or "none"}
    if dataset_label == labels["sample"]:
        wanted["data"] = SAMPLE
    elif dataset_label.startswith(labels["loaded"]):
        name = Path(dataset_path).name
        wanted["data"] = name
        if not is_shared(Path(dataset_path)):
            wanted["key"] = dataset_access_key(cache_dir, name)
    elif dataset_path:
        wanted["data"], wanted["folder"] = "folder", dataset_path
    if rater:
        wanted["rater"] = rater
    if st.session_state.get(QUERY):
        wanted["q"] = str(st.session_state[QUERY])
    params = st.query_params
    for name in PARAMETERS:
        if name in wanted and params.get(name) != wanted[name]:
            params[name] = wanted[name]
        elif name not in wanted and name in params:
            del params[name]


def remember_query(query: str) -> None:
    """The Search page's query, into the address now (the sidebar wrote it before the query box was read) and on
    every page's later runs."""
    st.session_state[QUERY] = query.strip()
    if query.strip() and st.query_params.get("q") != query.strip():
        st.query_params["q"] = query.strip()


"""Shows which models, device and precision are in use, and why, on every page."""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.inference.device import DeviceChoice
from explorer.inference.engine import InferenceEngine
from explorer.models.info import LoadedModel
from explorer.pipeline import RetrievalPipeline
from explorer.remote.names import is_remote_name
from explorer.settings import DEFAULT_RERANKER
from ui import cache
from ui.sidebar import SidebarChoices


def model_status(device: DeviceChoice, bi: LoadedModel, reranker: LoadedModel | None) -> None:
    """Which models run where, and why: every line of it (on the Models page)."""
    st.caption(f"Device: **{device.label}** ({device.reason})")
    st.caption(f"Bi-encoder: **{bi.info.loaded}** · source: {bi.info.source}. {bi.info.note}")
    if reranker is None:
        st.caption("Reranker: none; only the first stage runs.")
        return
    st.caption(f"Reranker: **{reranker.info.loaded}** · source: {reranker.info.source}")
    if not reranker.info.trained_for_relevance:
        st.warning(f"This reranker is not trained for relevance. {reranker.info.note}", icon="⚠️")
    elif reranker.info.source == "remote":
        st.caption(reranker.info.note)
    elif reranker.info.source == "trained here" or reranker.info.requested != reranker.info.loaded:
        st.info(reranker.info.note)


def model_summary(device: DeviceChoice, bi: LoadedModel, reranker: LoadedModel | None,
                  pipeline: RetrievalPipeline, choices: SidebarChoices) -> None:
    """For the Search page, above the query: one line of what runs, a short warning where the reranker is not
    trained for relevance, and the details (sources, notes, truncation) folded away beneath."""
    ranked_by = f"**{reranker.info.loaded}**" if reranker is not None else "no reranker (first stage only)"
    # the device as the models run it: a forced engine path (EXPLORER_ENGINE) changes the precision asked of the CPU
    device = reranker.device if reranker is not None else bi.device
    st.caption(f"Runs: **{bi.info.loaded}** → {ranked_by} · {device.label}")
    if reranker is not None and not reranker.info.trained_for_relevance:
        st.warning("This reranker is not trained for relevance: its order means little (details below).", icon="⚠️")
    elif reranker is not None and reranker.info.source == "trained here" and (
            reranker.info.requested != DEFAULT_RERANKER):
        st.info(reranker.info.note)  # a reranker trained here and chosen, not the default: its card's verdict
    with st.expander("Models, device and how much of each text they read"):
        st.caption(f"Device: **{device.label}** ({device.reason})")
        st.caption(f"Bi-encoder: **{bi.info.loaded}** · source: {bi.info.source}. {bi.info.note}")
        if reranker is None:
            st.caption("Reranker: none; only the first stage runs.")
        else:
            st.caption(f"Reranker: **{reranker.info.loaded}** · source: {reranker.info.source}. {reranker.info.note}")
        truncation_notes(pipeline, reranker, choices)


def truncation_notes(pipeline: RetrievalPipeline, reranker: LoadedModel | None, choices: SidebarChoices) -> None:
    """Say how many texts each model reads only in part: truncation is stated, never silent."""
    report = pipeline.index_report
    unit = "passages" if report.passages else "documents"
    if report.index_kind != "exact":
        st.caption(f"First-stage index: {report.index_description}.")
    over = report.over_length
    if over.count:
        st.caption(f"✂ {over.count:,} of {over.total:,} {unit} are longer than the bi-encoder's {over.max_tokens} "
                   f"tokens (longest: {over.longest:,}); it reads only their start."
                   + ("" if report.passages else " Splitting documents into passages (sidebar) searches all of it."))
    if reranker is not None and reranker.info.source == "remote":
        st.caption("The remote reranker reads and truncates documents on its own side (its limit is the service's).")
    elif reranker is not None and choices.reranker:
        rr_over = cache.over_length(choices.dataset_path, "reranker", choices.reranker, choices.device,
                                    choices.trust_remote_code)
        if rr_over.count:
            st.caption(f"✂ {rr_over.count:,} of {rr_over.total:,} documents are longer than the reranker reads "
                       f"(about {rr_over.max_tokens} tokens beside the query); it scores their start.")


def length_report(choices: SidebarChoices) -> None:
    """For the data set pages: how many documents each selected model will truncate."""
    local = choices.reranker and not is_remote_name(choices.reranker)  # a remote one truncates on its own side
    roles = [("bi-encoder", choices.bi_encoder)] + ([("reranker", choices.reranker)] if local else [])
    lines = []
    for role, name in roles:
        try:
            over = cache.over_length(choices.dataset_path, role, name, choices.device, choices.trust_remote_code)
        except ExplorerError as exc:
            lines.append(f"{role}: could not be loaded to count ({exc})")
            continue
        lines.append(f"{role} ({name}): {over.count:,} of {over.total:,} documents are longer than its "
                     f"{over.max_tokens} tokens (longest {over.longest:,}) and will be truncated when it reads them")
    st.caption("Text length: " + "; ".join(lines) + ". Passage splitting (sidebar) avoids truncation in the first stage.")


# the engine whose background preparation this session has watched, to say when it is done
WATCHED = "_preparation_watched"


@st.fragment(run_every=2.0)
def background_preparation(engine: InferenceEngine) -> None:
    """A progress bar while the reranker's faster stages are made in the background; redrawn every 2 s until done."""
    pending = engine.upgrading
    if pending is None:
        if st.session_state.get(WATCHED) == engine.token:
            st.caption(f"The reranker now runs as {engine.info().label}; the next query uses it.")
        return
    st.session_state[WATCHED] = engine.token
    st.progress(pending.fraction(), text=pending.note)


"""Shows which models, device and precision are in use, and why, on every page."""

from __future__ import annotations

import streamlit as st

from explorer.device import DeviceChoice
from explorer.models import LoadedModel


def model_status(device: DeviceChoice, bi: LoadedModel, reranker: LoadedModel | None) -> None:
    st.caption(f"Device: **{device.label}** ({device.reason})")
    st.caption(f"Bi-encoder: **{bi.info.loaded}** · source: {bi.info.source}. {bi.info.note}")
    if reranker is None:
        st.caption("Reranker: none; only the first stage runs.")
        return
    st.caption(f"Reranker: **{reranker.info.loaded}** · source: {reranker.info.source}")
    if not reranker.info.trained_for_relevance:
        st.warning(f"This reranker is not trained for relevance. {reranker.info.note}", icon="⚠️")
    elif reranker.info.requested != reranker.info.loaded:
        st.info(reranker.info.note)

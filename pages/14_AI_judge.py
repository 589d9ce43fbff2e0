"""AI judge page: a chat model grades query-document pairs on the data set's scale, with its guidelines; checked
against the people first, and counted as labels only when the user chooses so (see ui/ai_judge_panel.py)."""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from ui import kept_state
from ui.ai_judge_panel import (KEPT, check_against_people, context_of, defaults, endpoint_inputs, grade_the_pools,
                               prompt_editor, use_as_labels)
from ui.page_start import start_page

choices, data = start_page("AI judge", "An AI model grades query–document pairs on this data set's own scale, with "
                           "its judging guidelines. Its grades are checked against your raters first, and count as "
                           "labels only if you choose so.", needs_labels=True)
# the page's choices, kept when another page runs (see pages/7_Thresholds.py)
kept_state.remember(KEPT)
try:
    context = context_of(choices, data)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
initial = defaults(context.settings, data)
kept_state.restore(initial)
if st.session_state["aij_split"] not in data.splits:  # kept from another data set
    st.session_state["aij_split"] = initial["aij_split"]

st.subheader("Endpoint")
endpoint = endpoint_inputs(context.settings)
if endpoint is None:
    st.subheader("Use as labels")
    use_as_labels(context)
    st.stop()

st.subheader("Prompt")
prompt = prompt_editor(context.scale, context.store.guidelines(context.key))

st.subheader("Check against people")
split = check_against_people(context, endpoint, prompt)

st.subheader("Grade the pools")
st.caption("Fill the holes in the labels: the documents the sidebar's pipeline puts in the top n of its first stage "
           "and of its reranked list, for the split's queries, that no one has graded yet (the pool of the Judge "
           "page).")
grade_the_pools(context, choices, split, endpoint, prompt)

st.subheader("Use as labels")
use_as_labels(context)

"""Judge page: grade the documents both stages put in their top n for a query, blind, saved at each key press."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.judging.datasets import dataset_key
from explorer.judging.pool import judging_pool
from explorer.judging.store import SCALE_NAMES, SCALES, Judgement, typed_query_id
from ui import cache
from ui.evaluations import COMPARED_LISTS
from ui.judging import JudgingTarget, grade, move, my_grades, position
from ui.judging_panel import import_and_export, import_query_set, queries_to_judge, raters_and_rule
from ui.page_start import start_page, with_attached_documents

GRADE_WORDS = {0: "not relevant", 1: "related", 2: "relevant", 3: "the answer"}
BINARY_WORDS = {0: "not relevant", 1: "relevant"}

choices, data = start_page("Judge", "Grade the documents that either stage puts in its top n for a query. The order "
                           "is shuffled for you and shows no rank, score or stage, so neither can sway a grade; "
                           "each grade is saved the moment you give it.")
store = cache.judgements()
key = dataset_key(choices.dataset_path)
if not choices.rater:
    st.info("Type your name under 'Rater' in the sidebar: grades are kept under it, so two raters never overwrite "
            "each other.")
    st.stop()

scale = store.scale(key)
queries_to_judge(store, key, choices.rater, data)
left, middle, right = st.columns([3, 1, 1])
by_text = {q.text: q.query_id for q in data.queries.values()}
st.session_state.setdefault("judge_query", st.session_state.get("query", ""))
query = left.text_input("Query to judge", key="judge_query", placeholder="Type a query, or open one from Search").strip()
depth = int(middle.number_input("Pool: top n of each stage", 1, 50, 10, key="judge_depth"))
binary = right.toggle("Binary scale (0-1)", value=scale == "binary", key="judge_binary",
                      help="Graded 0-3 by default; binary for data sets judged relevant / not relevant.")
if binary != (scale == "binary"):
    try:
        store.set_scale(key, "binary" if binary else "graded")
        scale = store.scale(key)
    except ExplorerError as exc:
        st.error(str(exc))
words = BINARY_WORDS if scale == "binary" else GRADE_WORDS

with st.expander("Judging guidelines for this data set"):
    guidelines = store.guidelines(key)
    st.markdown(guidelines or "_No guidelines written yet._")
    edited = st.text_area("Edit (markdown)", guidelines, key="judge_guidelines_text")
    if st.button("Save the guidelines", key="judge_guidelines_save"):
        store.set_guidelines(key, edited)
        st.rerun()

# one view at a time: the others are not drawn, so each grade's rerun stays quick
VIEWS = ["One at a time", "The whole pool as a list", "Raters, import and export"]
view = st.radio("View", VIEWS, horizontal=True, key="judge_view", label_visibility="collapsed")
if view == VIEWS[2]:
    st.subheader("Raters and how their grades become one label")
    raters_and_rule(store, key, data)
    st.subheader("Import and export")
    import_and_export(store, key, choices.rater, data)
    st.subheader("Add a query set to judge")
    import_query_set(store, key)
    st.stop()

if not query:
    st.info("Type a query above, pick one under 'Queries to judge', or open one from the Search page to judge its "
            "results.")
    st.stop()

try:
    result = cache.search(choices.spec(), query)
    data = with_attached_documents(choices, data)  # an attached Milvus collection's documents, by its keys
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
lists = [[hit.doc_id for hit in result.first_stage]]
if result.reranked is not None:
    lists.append([hit.doc_id for hit in result.reranked])
compared = st.session_state.get(COMPARED_LISTS, {}).get(query, [])
if compared and st.toggle(f"Also pool the top n of the {len(compared)} configurations compared on the Compare page",
                          value=True, key="judge_pool_compared"):
    lists += compared
query_id = by_text.get(query) or typed_query_id(query)
target = JudgingTarget(key, query_id, query, choices.rater, tuple(judging_pool(query_id, choices.rater, lists, depth)),
                       typed=query not in by_text)
graded = my_grades(target)
raters = len(store.raters(key))
done = sum(1 for doc in target.pool if doc in graded)
st.progress(done / max(len(target.pool), 1),
            text=f"{done} of {len(target.pool)} pooled documents judged by {choices.rater} for this query · "
                 f"{store.count(key):,} judgements in this data set, by {raters} "
                 + ("rater" if raters == 1 else "raters"))
st.caption(f"Scale: {SCALE_NAMES[scale]}. Keys: " + ", ".join(str(g) for g in SCALES[scale])
           + " grade, S skip, B back. Query id: " + query_id + (" (typed; it becomes a labelled query with its "
                                                                  "first grade)" if target.typed else ""))
if error := st.session_state.pop("_judge_error", None):
    st.error(error)

if view == VIEWS[0]:
    at = position(target)
    if at >= len(target.pool):
        st.success(f"All {len(target.pool)} pooled documents have a grade from you. Evaluate now counts this query.")
        if st.button("Review from the first document", key="judge_restart"):
            move(target, 0)
            st.rerun()
    else:
        doc = data.document(target.pool[at])
        st.markdown("**Query**")
        st.text(query)
        st.markdown(f"**Document {at + 1} of {len(target.pool)}**"
                    + (f" · your grade so far: {graded[doc.doc_id]}" if doc.doc_id in graded else ""))
        if doc.title:
            st.text(doc.title)  # document text is untrusted: shown as text, never as markdown or HTML
        st.text(doc.text)
        columns = st.columns(len(SCALES[scale]) + 2)
        for column, value in zip(columns, SCALES[scale]):
            column.button(f"{value} · {words[value]}", key=f"judge_grade_{value}", shortcut=str(value),
                          on_click=grade, args=(target, doc.doc_id, value), width="stretch")
        columns[-2].button("Skip", key="judge_skip", shortcut="S", on_click=move, args=(target, at + 1),
                           width="stretch")
        columns[-1].button("Back", key="judge_back", shortcut="B", on_click=move, args=(target, at - 1),
                           disabled=at == 0, width="stretch")

else:
    rows = [{"doc_id": doc_id, "title": data.document(doc_id).title,
             "text": data.document(doc_id).text[:300], "grade": graded.get(doc_id)} for doc_id in target.pool]
    edited_rows = st.data_editor(
        pd.DataFrame(rows), hide_index=True, key="judge_table", disabled=["doc_id", "title", "text"],
        column_config={"grade": st.column_config.SelectboxColumn("grade", options=list(SCALES[scale])),
                       "doc_id": None, "text": st.column_config.TextColumn("text", width="large")})
    if st.button("Save the grades in the table", key="judge_table_save"):
        changed = [Judgement(query_id, str(row["doc_id"]), choices.rater, int(row["grade"]))
                   for row in edited_rows.to_dict("records")
                   if row["grade"] is not None and not pd.isna(row["grade"]) and graded.get(row["doc_id"]) != row["grade"]]
        try:
            if target.typed and changed:
                store.add_query(key, query, query_id)
            store.put_many(key, changed)
            st.rerun()
        except ExplorerError as exc:
            st.error(str(exc))

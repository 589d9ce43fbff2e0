"""Judge page: grade the documents both stages put in their top n for a query, blind, saved at each key press."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.judging.datasets import dataset_key
from explorer.judging.pool import judging_pool, labelled_elsewhere, left_out_of_pool
from explorer.judging.scale import JudgingScale, scale_of
from explorer.judging.store import Judgement, typed_query_id
from explorer.records import Dataset
from ui import cache
from ui.evaluations import COMPARED_LISTS
from ui.judging import JudgingTarget, desk, grade, grade_key, leave_text_boxes, move, my_grades, position, step
from ui.judging_keys import listen, pressed, shown_key, take_keys
from ui.judging_panel import import_and_export, import_query_set, queries_to_judge, raters_and_rule
from ui.page_start import start_page, with_attached_documents

LEFT_OUT = "_judge_left_out"  # (data set, query id, rater) -> what the rater's pool leaves out, fixed per session

choices, data = start_page("Judge", "Grade the documents that either stage puts in its top n for a query. The order "
                           "is shuffled for you and shows no rank, score or stage, so neither can sway a grade; "
                           "each grade is saved the moment you give it.")
store = cache.judgements()
key = dataset_key(choices.dataset_path)
if not choices.rater:
    st.info("Type your name under 'Rater' in the sidebar: grades are kept under it, so two raters never overwrite "
            "each other.")
    st.stop()

# the data set's own grades, from its own labels: the grades merged in from judging must not narrow them (a data set
# without labels, graded 0 and 1 so far, keeps its 0-3 keys)
scale = scale_of(store, key, cache.dataset(choices.dataset_path))
waiting_shown = queries_to_judge(store, key, choices.rater, data)
listen(desk(), scale.grades)
left, middle, right = st.columns([3, 1, 1])
by_text = {q.text: q.query_id for q in data.queries.values()}
st.session_state.setdefault("judge_query", st.session_state.get("query", ""))
query = left.text_input("Query to judge", key="judge_query", placeholder="Type a query, or open one from Search").strip()
leave_text_boxes(st.empty(), query, choices.rater)
depth = int(middle.number_input("Pool: top n of each stage", 1, 50, 10, key="judge_depth"))
binary = right.toggle("Binary scale (0-1)", value=scale.kind == "binary", key="judge_binary",
                      help=f"Graded on this data set's scale by default ({scale.data_scale.describe()}); binary for "
                           "data sets judged relevant / not relevant.")
if binary != (scale.kind == "binary"):
    try:
        store.set_scale(key, "binary" if binary else "graded")
        scale = scale_of(store, key, cache.dataset(choices.dataset_path))
    except ExplorerError as exc:
        st.error(str(exc))

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
    st.info("Type a query above" + (", pick one under 'Queries to judge' above" if waiting_shown else "")
            + ", or open one from another page: 'Judge these results' on Search, or 'Judge the unjudged', "
            "which Evaluate and Score threshold offer where labels are missing. To judge a set of queries, add it "
            "under 'Raters, import and export' (the view above).")
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
own_labels, judged = cache.dataset(choices.dataset_path).labels_for(query_id), store.judgements(key, query_id)
labelled = labelled_elsewhere(own_labels, judged, choices.rater)  # in the data set's labels or by another rater
# What the pool leaves out is fixed when the rater first opens the query in this session: another rater grading
# the same query meanwhile does not pull documents out of a pool being judged.
left_out = st.session_state.setdefault(LEFT_OUT, {}).setdefault((key, query_id, choices.rater),
                                                                left_out_of_pool(own_labels, judged, choices.rater))
everything = judging_pool(query_id, choices.rater, lists, depth)
only_unlabelled = st.toggle("Only documents without a label", value=True, key="judge_only_unlabelled",
                            help="Leave out the pooled documents the data set's labels or another rater already "
                                 "grade: judging fills the holes. Turn it off to grade them again (to measure "
                                 "agreement with the labels or between raters).")
pool = judging_pool(query_id, choices.rater, lists, depth, leave_out=left_out) if only_unlabelled else everything
target = JudgingTarget(key, query_id, query, choices.rater, tuple(pool), typed=query not in by_text,
                       grades=scale.grades)
already = sum(1 for doc in everything if doc in labelled)
st.caption(f"The pool: the top {depth} of {len(lists)} ranked lists, {len(everything)} documents, of which "
           f"{already} already have a label"
           + (f"; {len(everything) - len(pool)} of them are left out." if only_unlabelled and already else
              "." if not already else " (marked 'labelled'; their grades stay hidden so that they cannot sway "
              "yours)."))
if not target.pool:
    st.success(f"Every one of the {len(everything)} pooled documents already has a label. Raise the pool's top n "
               "to find unlabelled ones, or turn off 'Only documents without a label' to grade them again.")
    st.stop()


def show_progress(target: JudgingTarget, graded: dict[str, int]) -> None:
    raters, refused = len(store.raters(target.dataset)), desk().refused
    done = sum(1 for doc in target.pool if doc in graded)
    st.progress(done / max(len(target.pool), 1),
                text=f"{done} of {len(target.pool)} pooled documents judged by {target.rater} for this query · "
                     f"{store.count(target.dataset):,} judgements in this data set, by {raters} "
                     + ("rater" if raters == 1 else "raters")
                     + (f" · {refused} late key{'s' if refused > 1 else ''} not saved" if refused else ""))


@st.fragment
def one_at_a_time(target: JudgingTarget, data: Dataset, labelled: set[str], scale: JudgingScale) -> None:
    """The document to grade and its buttons. A click reruns this part of the page alone: quickly, and a click
    during that rerun waits for it (a rerun of the whole page would be stopped by it, and its grade could be lost).
    Keys are taken before, by the page (``take_keys``)."""
    at_desk = desk()
    notes, errors = at_desk.take_messages()  # first: the progress line counts the late keys
    graded = my_grades(target)
    show_progress(target, graded)
    with st.container():  # one place, however many notes: what follows keeps its place on the page between reruns,
        for note in notes:  # else the new keys would come beside the old ones and a press would take both
            st.info(note)
        for error in errors:
            st.error(error)
    at = position(target, at_desk)
    if at >= len(target.pool):
        st.success(f"All {len(target.pool)} pooled documents have a grade from you. Evaluate now counts this query.")
        if st.button("Review from the first document", key="judge_restart"):
            move(target, 0, at_desk)
            st.rerun(scope="fragment")
        return
    doc = data.document(target.pool[at])
    # The document comes before its buttons, so while the page reruns the screen may show the next document above
    # the previous one's buttons (never the other way round): a click then is refused with a note (ui.judging.grade),
    # where buttons drawn first would grade a document not yet on the screen. Its container names it for the keys.
    with st.container(key="judge_document"), st.container(key=shown_key(target, doc.doc_id)):
        st.markdown("**Query**")
        st.text(target.query_text)
        st.markdown(f"**Document {at + 1} of {len(target.pool)}**"
                    + (" · labelled (its grade is hidden)" if doc.doc_id in labelled else " · unlabelled")
                    + (f" · your grade so far: {graded[doc.doc_id]}" if doc.doc_id in graded else ""))
        if doc.title:
            st.text(doc.title)  # document text is untrusted: shown as text, never as markdown or HTML
        st.text(doc.text)
    columns = st.columns(len(scale.grades) + 2)
    for column, value in zip(columns, scale.grades):
        column.button(f"{value} · {scale.words[value]}", key=grade_key(target, doc.doc_id, value),
                      on_click=grade, args=(at_desk, store, target, doc.doc_id, value), width="stretch")
    columns[-2].button("Skip (S)", key="judge_skip", on_click=step, args=(at_desk, target, 1), width="stretch")
    columns[-1].button("Back (B)", key="judge_back", on_click=step, args=(at_desk, target, -1), disabled=at == 0,
                       width="stretch")


st.caption(f"Scale: {scale.name}. Keys: " + ", ".join(str(g) for g in scale.grades)
           + " grade, S skip, B back. Query id: " + query_id + (" (typed; it becomes a labelled query with its "
                                                                  "first grade)" if target.typed else ""))

if view == VIEWS[0]:
    take_keys(desk(), store, target, pressed())  # the keys pressed since the last run, before the fragment draws
    one_at_a_time(target, data, labelled, scale)
else:
    graded = my_grades(target)
    show_progress(target, graded)
    rows = [{"doc_id": doc_id, "label": "labelled" if doc_id in labelled else "unlabelled",
             "title": data.document(doc_id).title, "text": data.document(doc_id).text[:300],
             "grade": graded.get(doc_id)} for doc_id in target.pool]
    edited_rows = st.data_editor(
        pd.DataFrame(rows), hide_index=True, key="judge_table", disabled=["doc_id", "label", "title", "text"],
        column_config={"grade": st.column_config.SelectboxColumn("grade", options=list(scale.grades)),
                       "label": st.column_config.TextColumn("label", help="Whether the document already has a "
                                                            "grade (hidden) in the labels or from another rater"),
                       "doc_id": None, "text": st.column_config.TextColumn("text", width="large")})
    if st.button("Save the grades in the table", key="judge_table_save"):
        changed = [Judgement(query_id, str(row["doc_id"]), choices.rater, int(row["grade"]))
                   for row in edited_rows.to_dict("records")
                   if row["grade"] is not None and not pd.isna(row["grade"]) and graded.get(row["doc_id"]) != row["grade"]]
        try:
            if target.typed and changed:
                store.add_query(key, query, query_id)
            store.put_many(key, changed, scale.grades)
            st.rerun()
        except ExplorerError as exc:
            st.error(str(exc))

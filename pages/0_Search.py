"""Search page: one query through both stages, side by side, with rank shifts, scores and latency."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from explorer.errors import ExplorerError
from explorer.export.pipeline_file import Threshold
from explorer.signals.config import Authority
from explorer.judging.coverage import judged_at_k
from explorer.judging.overlap import jaccard_at_k, rank_biased_overlap
from explorer.views.result_tables import label_help, result_tables, with_label_text
from explorer.views.search_charts import (
    REMOTE_RERANKING,
    latency_figure,
    rank_shift_figure,
    score_distribution_figure,
)
from explorer.views.signal_charts import contributions_figure, moves_table
from ui import cache
from ui.address import remember_query
from ui.attention_link import attention_button
from ui.explain_link import explain_button
from ui.export_button import export_button
from ui.fallback import with_loadable_models
from ui.number_columns import number_columns
from ui.page_start import NO_DATASET, with_attached_documents
from ui.remote_price import remote_price_line
from ui.sidebar import FIRST_STAGE_LABELS, sidebar
from ui.status import WATCHED, background_preparation, model_summary
from ui.plain_text import markdown_literal

choices = sidebar()
st.title("Relevance explorer")
st.caption("A bi-encoder pulls candidates; a cross-encoder reads each (query, candidate) pair and reorders them.")

if not choices.dataset_path:
    st.info(NO_DATASET)
    st.stop()

progress_slot = st.empty()


def overlap_line(result) -> str:
    """Rank-biased overlap and Jaccard of the two stages' top 10: how much the reranker changed, without labels."""
    first, second = [h.doc_id for h in result.first_stage], [h.doc_id for h in result.reranked]
    return f"RBO {rank_biased_overlap(first, second):.2f}, Jaccard {jaccard_at_k(first, second):.2f}"


def coverage_line(result, labels: dict[str, int]) -> str:
    """judged@10 of each stage that ran, e.g. "first stage 1.00, reranked 0.80"."""
    parts = [f"first stage {judged_at_k([h.doc_id for h in result.first_stage], labels):.2f}"]
    if result.reranked is not None:
        parts.append(f"reranked {judged_at_k([h.doc_id for h in result.reranked], labels):.2f}")
    return ", ".join(parts)


def show_progress(done: int, total: int, what: str) -> None:
    progress_slot.progress(done / max(total, 1), text=f"{what}: {done:,} of {total:,}")


try:
    data = cache.labelled_dataset(choices.dataset_path)  # with the grades given on the Judge page
    device = cache.device(choices.device)
    with st.spinner("Loading models and the index…"):
        choices = with_loadable_models(choices)
        spec = choices.spec()
        opened = cache.opened(spec, progress=show_progress)
except ExplorerError as exc:
    progress_slot.empty()
    st.error(str(exc))
    st.stop()
progress_slot.empty()
data = with_attached_documents(choices, data, opened)
model_summary(device, opened.pipeline.bi_encoder, opened.reranker, opened.pipeline, choices)

TYPE_YOUR_OWN = "(type your own)"  # the picker's entry (and placeholder) for a typed query
labelled = {q.query_id: q for q in data.labelled_queries()}
split_of = {qid: split for split in data.splits for qid in data.qrels_by_split[split]}
by_text = {q.text: q.query_id for q in labelled.values()}


def adopt_labelled_query() -> None:
    picked = st.session_state.get("picked_query")
    if picked:
        st.session_state["query"] = labelled[picked].text


def follow_typed_query() -> None:
    """A typed query that is not a labelled one leaves the picker on "(type your own)"."""
    st.session_state["picked_query"] = by_text.get(st.session_state.get("query", "").strip())


# A query belongs to the data set it was asked of: another data set starts from its own first labelled query.
if st.session_state.get("_query_dataset", choices.dataset_path) != choices.dataset_path:
    st.session_state.pop("query", None)
    st.session_state["picked_query"] = None
st.session_state["_query_dataset"] = choices.dataset_path
if "query" not in st.session_state:
    first = next(iter(data.labelled_queries("test") or labelled.values()), None)
    st.session_state["query"] = first.text if first else ""
    st.session_state["picked_query"] = first.query_id if first else None
elif "picked_query" not in st.session_state:  # a query brought by the page's address
    st.session_state["picked_query"] = by_text.get(st.session_state["query"].strip())

left, right = st.columns([3, 2])
query = left.text_input("Query", key="query", placeholder="Ask something the corpus might answer",
                        on_change=follow_typed_query)
right.selectbox(
    f"…or pick one of the {len(labelled)} labelled queries" if labelled else "…no labelled queries in this data set",
    [None, *labelled], key="picked_query",
    format_func=lambda qid: TYPE_YOUR_OWN if qid is None else f"[{split_of.get(qid, '?')}] {labelled[qid].text}",
    on_change=adopt_labelled_query, placeholder=TYPE_YOUR_OWN,
)
remember_query(query)
if not query.strip():
    st.info("Type a query above to see both stages.")
    st.stop()

try:
    blend = opened.blend
    engine = opened.reranker.engine if opened.reranker is not None else None
    if engine is not None and not engine.is_prepared:
        with st.spinner(engine.preparing_note):
            engine.info()
    # the models' answer is cached without the signals: moving a signal's weight reorders it, and reruns no model
    result, fresh = cache.search_fresh(replace(spec, signals=None), query)
    result = opened.pipeline.rank_with_signals(result, spec.signals)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
relevance_result = result
if result.signals is not None and not st.toggle("Rank without signals", key="without_signals",
                                                help="Relevance alone: the reranker's (or blended) order."):
    result = result.in_signal_order()

if result.query_cut:
    st.warning(result.query_cut)
query_id = by_text.get(query.strip())
labels = data.labels_for(query_id) if query_id else None
has_probability = bool(result.reranker and result.reranker.has_probability)
threshold = None
if choices.use_threshold and result.reranked is not None:
    threshold = choices.threshold_probability if has_probability else choices.threshold_raw
tables = result_tables(result, data, labels, top_n=choices.top_n, threshold=threshold)

t = result.timings
remote = bool(result.reranker and result.reranker.source == "remote")
st.caption(
    f"{len(result.first_stage)} candidates ({choices.first_stage_method}) · "
    + ("" if fresh else "cached answer; when first computed: ")
    + f"query encoding {t.query_encoding_ms:,.0f} ms · first-stage search {t.first_stage_ms:,.1f} ms · "
    + (REMOTE_RERANKING if remote else "reranking")
    + f" {t.reranking_ms:,.0f} ms" + (f" ({result.reranker_engine})" if result.reranker_engine else "")
    + f" · total {t.total_ms:,.0f} ms"
    + (f" · labels: query {query_id}" if labels is not None else " · this query has no labels")
    + (f" · judged@10: {coverage_line(result, labels)}" if labels is not None else "")
    + (f" · the stages' top 10 agree: {overlap_line(result)}" if result.reranked is not None else "")
)
if result.cascade is not None:
    c = result.cascade
    st.caption(f"Cascade: {c.small_model} read all {c.pairs_small} candidates in {c.small_ms:,.0f} ms, the reranker "
               f"read its top {c.pairs_main} in {c.main_ms:,.0f} ms"
               + (f" ({c.from_cache_small + c.from_cache_main} pairs from the score cache)"
                  if c.from_cache_small + c.from_cache_main else "")
               + f". Below rank {c.pairs_main}, the order and the 'small score' are the small reranker's.")
if choices.window is not None and result.reranked is not None:
    st.caption(f"Window: the reranker read, of each document longer than {choices.window.max_tokens} tokens, the "
               f"{choices.window.max_tokens}-token window that holds most of the query's rare words (after its title), "
               "not its first tokens.")
if remote:
    st.caption(remote_price_line(result.reranker.loaded, len(result.first_stage)))
judge_column, export_column = st.columns([1, 3])
if judge_column.button("Judge these results", key="judge_these", help="Grade the pooled top 10 of both stages, blind, "
                       "on the Judge page (for a query without labels, or to fill the holes in its labels)."):
    st.session_state["judge_query"] = query.strip()
    st.switch_page("pages/9_Judge.py")
export_button(opened, Threshold(threshold, "probability" if has_probability else "raw") if threshold is not None
              else None, None, "export_search", export_column)
if engine is not None and (engine.upgrading is not None or st.session_state.get(WATCHED) == engine.token):
    background_preparation(engine)
if result.reranked is not None and blend < 1.0:
    st.caption(f"Reranked order: {blend:g} × reranker + {1 - blend:g} × first stage (scores z-normalised per query)"
               + (", the blend this reranker's card recommends" if choices.blend_mode.startswith("as") else "")
               + ". Choose 'reranker alone' in the sidebar to see the reranker by itself.")

columns = {
    "rank": st.column_config.NumberColumn("rank", width="small"),
    # the data set's own scale, from its own labels, as on the Judge page (grades given there do not change it)
    "label": st.column_config.TextColumn("label", width="small",
                                         help=label_help(cache.dataset(choices.dataset_path).grade_scale)),
    "title": st.column_config.TextColumn("title", width="medium"),
    "snippet": st.column_config.TextColumn("snippet", width="large"),
    "doc_id": None,
}
first_col, second_col = st.columns(2)
with first_col:
    st.subheader(f"First stage ({FIRST_STAGE_LABELS[choices.first_stage_method]})")
    picked = st.dataframe(with_label_text(tables.first_stage), hide_index=True, column_config=columns,
                          key="first_table", on_select="rerun", selection_mode="single-row")
    attention_button(query, tables.first_stage, picked, key="first_attention")
with second_col:
    st.subheader("Reranked (cross-encoder)" + (" + signals" if result is not relevance_result else ""))
    if tables.reranked is None:
        st.info("No reranker selected: choose one in the sidebar to see the second stage.")
    else:
        picked = st.dataframe(with_label_text(tables.reranked), hide_index=True, column_config=columns,
                              key="reranked_table", on_select="rerun", selection_mode="single-row")
        attention_button(query, tables.reranked, picked, key="reranked_attention")
        explain_button(query, tables.reranked, picked, key="reranked_explain")
        if tables.cut_off is not None:
            if len(tables.cut_off):
                st.markdown(f"**✂ Cut off: {len(tables.cut_off)} of the top {choices.top_n} are under the "
                            f"threshold {tables.threshold:g} ({tables.threshold_column})**")
                greyed = with_label_text(tables.cut_off).style.set_properties(**{"color": "#8c959f"})
                picked = st.dataframe(greyed, hide_index=True, column_config=columns, key="cut_table",
                                      on_select="rerun", selection_mode="single-row")
                attention_button(query, tables.cut_off, picked, key="cut_attention")
            else:
                st.caption(f"All of the top {choices.top_n} are at or above the threshold {tables.threshold:g}.")

signalled = relevance_result.signals
if signalled is not None:
    st.subheader("Signals: what each adds to the final score")
    moved = sum(1 for hit in signalled.hits[:choices.top_n] if hit.moved)
    others = {s.label: s.other for s in signalled.config.signals if isinstance(s, Authority)}
    missing = [f"{count} of {len(signalled.hits)} candidates have no value for {label} (it adds "
               + (f"the weight of other values, {others[label]:g}" if label in others else "0") + ")"
               for label, count in signalled.missing.items() if count]
    st.caption(markdown_literal(
        f"Final score = {signalled.config.describe()}; relevance is the ranking score scaled 0-1 over the "
        f"{len(signalled.hits)} candidates. {moved} of the top {choices.top_n} are not where relevance alone put "
        f"them ({relevance_result.signals_ms:,.1f} ms)." + (" " + "; ".join(missing) + "." if missing else "")))
    st.plotly_chart(contributions_figure(signalled, data, choices.top_n), key="signals_chart")
    moves = moves_table(signalled, data, choices.top_n)
    st.dataframe(moves, hide_index=True, key="signals_table", column_config={"doc_id": None, **number_columns(moves)})

chart_left, chart_right = st.columns(2)
with chart_left:
    if result.reranked is not None:
        st.plotly_chart(rank_shift_figure(result, data, labels, choices.top_n), key="rank_shift_chart")
with chart_right:
    st.plotly_chart(score_distribution_figure(result, labels, data.grade_scale.relevant_from), key="score_chart")
st.plotly_chart(latency_figure(result.timings, cached=not fresh, remote=remote), key="latency_chart")

with st.expander("Read a document in full"):
    shown = tables.reranked if tables.reranked is not None else tables.first_stage
    doc_id = st.selectbox("Document", list(shown["doc_id"]),
                          format_func=lambda d: f"{d}: {data.document(d).title}", key="doc_to_read")
    if doc_id:
        document = data.document(doc_id)
        st.text(document.title + "\n\n" + document.text)
        if document.metadata:  # plain text: the values are the data set's, never read as markup
            st.text("\n".join(f"{field}: {value}" for field, value in document.metadata.items()))

"""Evaluate page: both stages on a labelled split: metrics, per-query changes, significance, depth and cost, exports."""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.cascade_sweep import cascade_sweep
from explorer.evaluation.charts import cascade_figure, depth_figure, per_query_delta_figure
from explorer.evaluation.depth_sweep import DEFAULT_DEPTHS, depth_sweep
from explorer.evaluation.html_report import evaluation_report, safe_file_part
from explorer.evaluation.metrics import METRIC_NAMES, check_metric
from explorer.evaluation.run_cost import rerank_cost
from explorer.evaluation.run_files import escaped_ids, run_id, trec_run
from explorer.evaluation.significance import TESTS, paired_test
from explorer.evaluation.tables import metrics_json, metrics_table, per_query_table, summary_json
from explorer.explain.faithfulness import report_explainer
from explorer.judging.datasets import dataset_key, label_version
from explorer.models.packaged import built_small_reranker
from explorer.time_left import Pace
from ui import cache, evaluations
from ui.attention_link import open_attention
from ui.explain_link import open_explanation
from ui.coverage_note import show_coverage, show_overlap, unjudged_picker
from ui.number_columns import number_columns
from ui.page_start import split_picker, start_page
from ui.sidebar import speed_for_this_session
from ui.signals_evaluation import show_signals_section

SEARCH_PAGE = "pages/0_Search.py"

choices, data = start_page("Evaluate", "Score the first stage and the reranked list on the same labelled queries, "
                           "with the settings in the sidebar (data set, first stage, models, depth k, blend).",
                           needs_labels=True)

left, middle, right, fourth = st.columns(4)
split = split_picker(data, "eval_split", left)
cutoffs_text = middle.text_input("Cut-offs k", "10, 100", key="eval_cutoffs",
                                 help="Each metric is computed at each cut-off; MAP is also given without one.")
grades = data.grade_scale  # the labels' own scale: Cranfield's 1-4 is relevant from 1, 4 the best
relevant_grade = right.number_input("Relevant from grade", 1, max(grades.highest, grades.relevant_from),
                                    grades.relevant_from, key="eval_relevant_grade",
                                    help=f"This data set's labels: {grades.describe()}. Binary metrics (MRR, recall, "
                                         "precision, MAP) count this grade and above as relevant; nDCG uses the "
                                         "grades themselves.")
unjudged = unjudged_picker("eval_unjudged", fourth)
try:
    cutoffs = sorted({int(part) for part in cutoffs_text.replace(";", ",").split(",") if part.strip()})
    metrics = [f"{name}@{k}" for name in METRIC_NAMES for k in cutoffs] + ["map"]
    for name in metrics:
        check_metric(name)
except (ValueError, ExplorerError):
    st.error("Cut-offs must be whole numbers from 1 up, separated by commas, like: 5, 10, 100")
    st.stop()

try:
    request = evaluations.request_from(choices, split)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
n_queries = len(data.labelled_queries(split))
if not evaluations.was_requested(request):
    intro = st.empty()
    with intro.container():
        st.info(f"{n_queries} labelled queries in '{split}' · {evaluations.describe(request)} · depth {request.spec.depth}.")
        st.caption(rerank_cost(n_queries, request.spec.depth, [request.spec.reranker_name],
                               speed_for_this_session("reranker")).said())
        clicked = st.button("Run the evaluation", type="primary", key="run_eval")
    if not clicked:
        st.stop()
    intro.empty()
try:
    evaluation = evaluations.run(request).counting(unjudged)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

st.subheader("Metrics")
table = metrics_table([evaluation], metrics, int(relevant_grade))
shown = table.set_index("stage")[[m for m in table.columns if m in metrics]].T
if evaluation.has_reranker:
    shown["change"] = shown["reranked"] - shown["first stage"]
st.dataframe(shown, key="metrics_table", column_config=number_columns(shown))
latency = evaluation.latency_ms()
st.caption(f"{evaluation.name} · {len(evaluation.outcomes)} queries · depth {evaluation.config.depth} · median per "
           f"query: encoding {latency['query_encoding']:,.0f} ms, first stage {latency['first_stage']:,.1f} ms, "
           f"reranking {latency['rerank']:,.0f} ms (measured when each query first ran) · recall counts every judged "
           "relevant document, including those the first stage never retrieved.")
if evaluation.rerank_timing_note:
    st.caption(evaluation.rerank_timing_note)
show_coverage([(stage.replace("_", " "), evaluation.ranked(stage)) for stage in evaluation.stages()],
              evaluation.qrels, evaluation.query_texts, unjudged, "eval")
if evaluation.has_reranker:
    show_overlap(("the first stage", evaluation.ranked("first_stage")), ("the reranked list", evaluation.ranked("reranked")))
ran = evaluations.opened(request).reranker
if evaluation.has_reranker and ran is not None and not ran.info.trained_for_relevance:
    st.warning("This reranker is not trained for relevance: expect it to lower the scores.")

if evaluation.has_reranker:
    st.subheader("Per query")
    test_metric = st.selectbox("Metric", [m for m in metrics if m != "map"], key="eval_query_metric")
    test_name = st.selectbox("Paired test", TESTS, key="eval_test")
    per_query = evaluation.per_query(test_metric, int(relevant_grade))
    comparison = paired_test(per_query["first_stage"], per_query["reranked"], test_metric, test_name)
    verdict, said = comparison.verdict()
    {"helps": st.success, "hurts": st.warning, "unclear": st.warning, "untested": st.info}[verdict](said)
    deltas = {q: per_query["reranked"][q] - per_query["first_stage"][q] for q in per_query["first_stage"]}
    st.plotly_chart(per_query_delta_figure(deltas, test_metric, evaluation.query_texts), key="delta_chart")
    queries = per_query_table(evaluation, test_metric, int(relevant_grade)).round(4)
    event = st.dataframe(queries, hide_index=True, on_select="rerun", selection_mode="single-row", key="query_table",
                         column_config=number_columns(queries, text=st.column_config.TextColumn("text", width="large")))
    rows = list(event["selection"]["rows"]) if event else []
    if rows:
        query_id = str(queries.iloc[rows[0]]["query"])
        text = evaluation.query_texts[query_id]
        go_search, go_attention = st.columns(2)
        if go_search.button("Open this query side by side on the Search page", key="open_search"):
            st.session_state["query"] = text
            st.session_state["picked_query"] = query_id
            st.switch_page(SEARCH_PAGE)
        top = next(o for o in evaluation.outcomes if o.query_id == query_id).reranked
        if top and go_attention.button("See the reranker's attention on its top result", key="open_attention"):
            open_attention(text, top[0])
        if top and go_attention.button("See why: what moved its top result's score (and why it is above the next)",
                                       key="open_explanation"):
            open_explanation(text, top[0], top[1] if len(top) > 1 else "")
    else:
        st.caption("Select a row to open that query side by side on the Search page.")

    st.subheader("Depth and cost")
    depths = sorted({d for d in DEFAULT_DEPTHS if d < request.spec.depth} | {request.spec.depth})
    st.caption(f"nDCG@10 and reranking time at depths {', '.join(map(str, depths))} (up to the depth k in the "
               "sidebar): the scores at smaller depths are a subset of those at k, which the evaluation above already "
               "has; the time of each depth is measured again on 5 queries.")
    if st.button("Run the depth sweep", key="run_sweep"):
        try:
            deep = evaluation
            pipeline = evaluations.opened(request).pipeline
            bar = st.progress(0.0, text="Timing each depth…")
            depth_pace = Pace("depths")
            st.session_state["_depth_points"] = (request, depth_sweep(
                pipeline, deep, depths=depths, timed_queries=5,
                progress=lambda done, total: bar.progress(done / total,
                                                          text=f"Timing each depth: {depth_pace.status(done, total)}")))
            bar.empty()
        except ExplorerError as exc:
            st.error(str(exc))
    swept = st.session_state.get("_depth_points")
    if swept and swept[0] == request:
        st.plotly_chart(depth_figure(swept[1]), key="depth_chart")

    st.subheader("Cascade: how few pairs can the reranker read?")
    cascade_note = ("A small reranker reads every candidate and the reranker only its top M. The reranker's scores of "
                    "every candidate are in the evaluation above, so each M costs only the small reranker's pass "
                    "(its scores are kept); time per query is estimated from both models' measured times. Beside it, "
                    "the reference a small reranker must beat: the reranker on the first stage's own top M (no small "
                    "pass; Compare can add it as a row).")
    if evaluation.cascade:
        st.caption(cascade_note + " This evaluation is a cascade already: turn the cascade off in the sidebar, "
                   "evaluate, and sweep M from there.")
    else:
        st.caption(cascade_note)
        built = built_small_reranker(cache.settings())
        small_name = st.text_input("Small reranker (hub id or folder)", key="sweep_small",
                                   placeholder=built or "a hub id or folder",
                                   help="Empty: the small reranker built here (python -m explorer "
                                        "build-small-reranker).").strip() or built
        if st.button("Sweep M", key="run_cascade_sweep", disabled=not small_name):
            try:
                small = cache.reranker(small_name, choices.device, choices.trust_remote_code)
                pipeline = evaluations.opened(request).pipeline
                bar = st.progress(0.0, text="Scoring every candidate with the small reranker…")
                pace = Pace("queries")
                swept = cascade_sweep(pipeline, evaluation, small,
                                      progress=lambda done, total: bar.progress(
                                          done / total, text=f"Small reranker: {pace.status(done, total)}"))
                bar.empty()
                st.session_state["_cascade_points"] = (request, small_name, swept)
            except ExplorerError as exc:
                st.error(str(exc))
        if not small_name:
            st.caption("No small reranker is built here yet: `python -m explorer build-small-reranker` (a few "
                       "minutes), or name one above.")
        kept = st.session_state.get("_cascade_points")
        if kept and kept[0] == request and kept[1] == small_name:
            st.plotly_chart(cascade_figure(kept[2]), key="cascade_chart")
            st.caption(kept[2].timing_note)

show_signals_section(choices, data, evaluation, request, metrics, int(relevant_grade))

st.subheader("Take it away")
tag = safe_file_part(f"{split}.{evaluation.config.first_stage_method}")  # a split may be "judged here"
columns = st.columns(5)
for column, stage in zip(columns, evaluation.stages()):
    column.download_button(f"TREC run: {stage.replace('_', ' ')}", trec_run(evaluation, stage),
                           file_name=f"{tag}.{stage}.trec", mime="text/plain", key=f"trec_{stage}")
escaped = escaped_ids(evaluation, evaluation.stages()[-1])
if escaped:
    st.caption(f"{len(escaped)} id(s) hold white space or '%'. The run files write them percent-encoded, so every "
               f"line keeps its six fields: for example {escaped[0]!r} is written {run_id(escaped[0])!r}.")
columns[2].download_button("Metrics (CSV)", table.to_csv(index=False), file_name=f"{tag}.metrics.csv",
                           mime="text/csv", key="csv")
columns[3].download_button("Metrics (JSON)", metrics_json(table), file_name=f"{tag}.metrics.json",
                           mime="application/json", key="json")
if columns[4].button("Build the HTML report", key="build_report"):
    swept = st.session_state.get("_depth_points")
    st.session_state["_report"] = (request, evaluation_report(
        evaluation, metrics, relevant_grade=int(relevant_grade),
        depth_points=swept[1] if swept and swept[0] == request else (),
        labels=evaluations.label_version_of(choices, split), titles=data.title_of, scale=data.grade_scale,
        explain_with=report_explainer(evaluations.opened(request))))
built = st.session_state.get("_report")
if built and built[0] == request:
    columns[4].download_button("Download the report (HTML)", built[1], file_name=f"{tag}.report.html",
                               mime="text/html", key="report")
with st.form("snapshot_form", border=False):
    left, right = st.columns([3, 1])
    snapshot_name = left.text_input("Save this evaluation as a snapshot named", key="snapshot_name",
                                    placeholder="e.g. dense + default reranker, before tuning")
    replace = right.checkbox("Replace a snapshot of that name", key="snapshot_replace")
    if st.form_submit_button("Save as a snapshot", key="snapshot_save"):
        try:
            store, key = cache.judgements(), dataset_key(choices.dataset_path)
            saved = cache.snapshots().save(snapshot_name, key, evaluation, label_version(store, key, split),
                                           replace=replace)
            st.success(f"Saved as snapshot '{saved.name}' ({saved.label_version}); compare it on the Snapshots page.")
        except ExplorerError as exc:
            st.error(str(exc))
with st.expander("Summary as the command line writes it"):
    st.json(summary_json(evaluation, relevant_grade=int(relevant_grade)))
    st.code(f"python -m explorer eval --data {choices.dataset_path} --split {split} --first-stage "
            f"{evaluation.config.first_stage_method} --bi-encoder {choices.bi_encoder} --reranker "
            f"{request.spec.reranker or 'none'} --depth {evaluation.config.depth} --blend {evaluation.config.blend:g} "
            "--json out.json", language="bash")

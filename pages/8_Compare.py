"""Compare page: several first stages and rerankers on the same labelled queries; quality against latency."""

from __future__ import annotations

import itertools
from dataclasses import replace

import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.charts import comparison_scatter
from explorer.evaluation.comparison import compare, configuration_names, final_stage
from explorer.evaluation.run_cost import rerank_cost
from explorer.evaluation.significance import TESTS
from explorer.evaluation.tables import comparison_table
from explorer.export.pipeline_file import Measured
from explorer.remote.names import is_remote_name
from ui import cascade_rows, evaluations
from ui.coverage_note import show_coverage, show_overlaps, unjudged_picker
from ui.export_button import export_button
from ui.number_columns import number_columns
from ui.page_start import split_picker, start_page
from ui.plain_text import markdown_literal
from ui.remote_price import llm_rerankers, remote_price_line
from ui.sidebar import FIRST_STAGE_LABELS, NO_RERANKER, RERANKERS, describe_model, speed_for_this_session

RAN = "_cmp_ran"  # set by the button's callback, so a click counts even if its run is cut short

choices, data = start_page("Compare configurations", "Every chosen first stage with every chosen reranker, on the "
                           "same labelled queries and depth k. The first configuration is the baseline the others "
                           "are tested against.", needs_labels=True)

# One form: the choices reach the server together with the click, and no rerun made by a choice (a menu closing
# as the button is clicked) comes between the click and its run.
with st.form("cmp_form", border=False):
    left, right = st.columns(2)
    split = split_picker(data, "cmp_split", left)
    metric = right.selectbox("Metric for the chart and the test", ["ndcg@10", "mrr@10", "recall@100", "map@100"],
                             key="cmp_metric")
    first_stages = st.multiselect("First stages", list(FIRST_STAGE_LABELS), default=[choices.first_stage_method],
                                  format_func=FIRST_STAGE_LABELS.get, key="cmp_first_stages")
    default_rerankers = [NO_RERANKER] + ([choices.reranker] if choices.reranker else [])
    rerankers = st.multiselect("Rerankers", list(dict.fromkeys(RERANKERS + default_rerankers + llm_rerankers())),
                               default=default_rerankers, format_func=lambda name: describe_model(name, "reranker"),
                               key="cmp_rerankers", help="Rerankers that cannot be loaded here (hub models offline) "
                                                         "are reported and skipped. LLM rerankers (pointwise: a grade "
                                                         "per document; listwise: RankGPT-style windows) run the model "
                                                         "in EXPLORER_LLM_MODEL; another one can be typed as the "
                                                         "sidebar's remote reranker.")
    left, right = st.columns(2)
    test_name = left.selectbox("Paired test against the baseline", TESTS, key="cmp_test")
    unjudged = unjudged_picker("cmp_unjudged", right)
    left, right = st.columns(2)
    keeps = left.multiselect("Also each reranked configuration reading only the top M", cascade_rows.KEEPS,
                             key="cmp_keeps",
                             help="The reranker reads only M of the candidates: the first stage's top M, or a small "
                                  "reranker's (the sidebar's Cascade, else the one built here). Each M is read from "
                                  "the full rerank's scores, so the reranked configurations run in full (without the "
                                  "sidebar's cascade) and no M runs the reranker again; its time is estimated.")
    filters = right.multiselect("Chosen by", cascade_rows.FILTERS, default=[cascade_rows.FILTERS[0]],
                                key="cmp_keep_filters")
    also_signals = st.checkbox("Also each configuration with the sidebar's signals", key="cmp_signals",
                               disabled=choices.signals is None,
                               help="Freshness, authority, numbers and diversity as set in the sidebar ('Mix in "
                                    "signals'); each configuration's lists are reordered, no model runs again.")
    st.form_submit_button("Run the comparison", type="primary", key="cmp_run",
                          on_click=lambda: st.session_state.update({RAN: True}))
configurations = list(itertools.product(first_stages, rerankers))
if not configurations:
    st.info("Choose at least one first stage and one reranker (or none).")
    st.stop()
cost = rerank_cost(len(data.labelled_queries(split)), choices.depth,
                   [None if name == NO_RERANKER else name for _, name in configurations],
                   speed_for_this_session("reranker"))
st.caption(f"{len(configurations)} configuration(s) × {len(data.labelled_queries(split))} queries at depth "
           f"{choices.depth}. {cost.said()}")
if not st.session_state.get(RAN):
    st.stop()

done, requests, problems = [], [], []
with st.status(f"Running {len(configurations)} configuration(s)…", expanded=True) as running:
    for position, (first_stage, reranker_name) in enumerate(configurations, start=1):
        name = None if reranker_name == NO_RERANKER else reranker_name
        # opening a first stage for the first time (embedding the corpus) takes a while before any query runs
        running.update(label=f"Configuration {position} of {len(configurations)}: {first_stage} "
                             + (f"→ {reranker_name}" if name else "only"))
        try:
            request = evaluations.request_from(choices, split, reranker=name, first_stage_method=first_stage)
            if keeps:  # each M is read from the full rerank
                request = replace(request, spec=replace(request.spec, cascade=None))
            done.append(evaluations.run(request).counting(unjudged))
            requests.append(request)
        except ExplorerError as exc:
            problems.append(f"{first_stage} → {reranker_name}: {exc}")
    if also_signals and choices.signals is not None:
        for request, evaluation in list(zip(requests, done)):
            try:
                done.append(evaluations.with_sidebar_signals(evaluation, request, choices.signals))
                requests.append(replace(request, spec=replace(request.spec, signals=choices.signals)))
            except ExplorerError as exc:
                problems.append(f"{evaluation.name} with signals: {exc}")
    estimated = []  # (the configuration the rows come from, by position, what their times rest on)
    for position, (request, evaluation) in enumerate(list(zip(requests, done))):
        derived = cascade_rows.rows_for(choices, request, evaluation, keeps, filters)
        done += [e.counting(unjudged) for e in derived.evaluations]
        estimated += [(position, note) for note in derived.notes]
        problems += derived.problems
    running.update(label=f"{len(done)} configuration(s) compared", state="complete", expanded=False)
for problem in dict.fromkeys(problems):  # the same reason for several configurations, said once
    st.warning(f"Skipped {problem}")
if not done:
    st.stop()

names = configuration_names(done)
rows = compare(done, [metric, "ndcg@10", "mrr@10", "recall@100"], test_metric=metric, test=test_name)
table = comparison_table(rows)
st.dataframe(table, hide_index=True, key="cmp_table", column_config=number_columns(
    table, configuration=st.column_config.TextColumn(width="large")))
st.caption(f"Each configuration against the first ({names.short[0]}): {test_name} on {metric}, over the same "
           "queries; Δ is the mean change." + (f" Rerankers: {markdown_literal(names.note)}" if names.note else ""))
cached = [short for short, evaluation in zip(names.short, done)
          if evaluation.has_reranker and not evaluation.fresh_reranks()]
if cached:
    st.caption("The reranking time of " + markdown_literal(", ".join(cached)) + " is the score cache's, not the "
               "model's: every pair was scored before and read back.")
if estimated:
    st.caption("Rows ending '→ top M' did not run: each is its configuration's full rerank with the reranker's "
               "scores kept for the top M only (chosen by the first stage's order or the small reranker's) and the "
               "rest in the chooser's order, as a cascade search orders them. Their reranking time is an estimate: "
               "M pairs at the reranker's time per pair, plus the small reranker's median pass where it chooses: "
               + markdown_literal("; ".join(f"{names.short[at]}: {note}" for at, note in estimated)) + ".")
st.plotly_chart(comparison_scatter(rows, metric), key="cmp_scatter")
for remote_name in dict.fromkeys(name for _, name in configurations if is_remote_name(name)):
    st.caption(remote_price_line(remote_name, choices.depth) + " Its latency includes the network.")
finals = [(short, evaluation.ranked(final_stage(evaluation))) for short, evaluation in zip(names.short, done)]
covered = show_coverage(finals, done[0].qrels, done[0].query_texts, unjudged, "cmp")
if len(finals) > 1 and not any(c.mean for c in covered):  # agreement stands in for labels only where there are none
    show_overlaps(finals[0], finals[1:])
# the Judge page can pool every compared configuration's top n for a query
st.session_state[evaluations.COMPARED_LISTS] = {
    text: [ranked.get(query_id, []) for _, ranked in finals] for query_id, text in done[0].query_texts.items()}


left, right = st.columns([2, 1])
chosen = left.selectbox("Configuration to export", range(len(requests)), format_func=lambda i: names.short[i],
                        key="cmp_export_choice")
try:
    export_button(evaluations.opened(requests[chosen]), None,
                  Measured.of(done[chosen], f"Compare page ({done[chosen].name}, split {split})",
                              evaluations.label_version_of(choices, split)),
                  "cmp_export", right)
except ExplorerError as exc:
    right.caption(f"The pipeline cannot be exported: {exc}")

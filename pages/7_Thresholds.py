"""Thresholds page: where to cut the reranker's scores so that what is kept is good enough."""

from __future__ import annotations

import math

import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.charts import threshold_curves_figure, threshold_distribution_figure
from explorer.evaluation.thresholds import threshold_sweep
from explorer.export.pipeline_file import Measured, Threshold
from ui import evaluations, kept_state
from ui.calibration_panel import calibration_panel
from ui.coverage_note import show_coverage, unjudged_picker
from ui.export_button import export_button
from ui.page_start import split_picker, start_page
from ui.sidebar import adopt_threshold_next_run

choices, data = start_page("Score threshold", "Below a threshold, the explorer says \"no good answer\". Pick it from "
                           "the reranker's scores on labelled queries: the precision you want, the recall you keep, "
                           "and the queries left with nothing.", needs_labels=True)
# The page's choices, kept when another page runs (Streamlit drops the values of widgets it does not draw): the
# values the user left are remembered at the start of each run, and put back when Streamlit has dropped them, each
# in the run that draws its widget (a value assigned in a run without its widget outlives the widget's own).
KEPT = ("thr_split", "thr_unjudged", "thr_relevant_grade", "thr_target", "thr_cal_method", "thr_cal_split",
        "thr_cal_keep")
kept_state.remember(KEPT)
if not choices.reranker:
    st.info("Thresholds are on the reranker's scores: choose a reranker in the sidebar.")
    st.stop()
grades = data.grade_scale
top_grade = max(grades.highest, grades.relevant_from)
kept_state.restore({"thr_split": "test" if "test" in data.splits else data.splits[0], "thr_unjudged": "not relevant",
                    "thr_relevant_grade": grades.relevant_from, "thr_target": 0.8})
if st.session_state["thr_split"] not in data.splits:  # kept from another data set
    st.session_state["thr_split"] = "test" if "test" in data.splits else data.splits[0]
if not 1 <= st.session_state["thr_relevant_grade"] <= top_grade:
    st.session_state["thr_relevant_grade"] = grades.relevant_from
try:
    left, middle, right, fourth = st.columns(4)
    split = split_picker(data, "thr_split", left)
    unjudged = unjudged_picker("thr_unjudged", fourth)
    relevant_grade = middle.number_input("Relevant from grade", 1, top_grade, key="thr_relevant_grade",
                                         help=f"This data set's labels: {grades.describe()}. Results graded this or "
                                              "higher count as relevant.")
    target = right.slider("Target precision", 0.05, 1.0, step=0.05, key="thr_target")
    request = evaluations.request_from(choices, split)
    if not evaluations.was_requested(request):
        st.info(f"Scores come from an evaluation of '{split}' ({evaluations.describe(request)}, depth {request.spec.depth}).")
        if not st.button("Run the evaluation", type="primary", key="thr_run"):
            st.stop()
    evaluation = evaluations.run(request).counting(unjudged)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
report = calibration_panel(choices, data, evaluation, unjudged, int(relevant_grade))
calibration = report.calibration if report is not None else None
if report is not None and report.held_out_queries:  # fitted on half of the split: the figures are on the other half
    evaluation = evaluation.subset(report.held_out_queries, report.held_out_split)
try:
    sweep = threshold_sweep(evaluation, top_n=choices.top_n, relevant_grade=int(relevant_grade),
                            calibration=calibration)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

suggestion = sweep.suggest(target)
st.caption(f"{evaluation.name}: over the top {sweep.top_n} reranked results (n in the sidebar) of "
           f"{sweep.n_queries} queries, by "
           f"{sweep.score_kind}. Recall is the share of the relevant results in those lists that are kept.")
show_coverage([("reranked list", evaluation.ranked("reranked"))], evaluation.qrels, evaluation.query_texts, unjudged,
              "thr", k=sweep.top_n)
measured = Measured.of(evaluation, f"Score threshold page ({evaluation.name}, split {evaluation.config.split})",
                      evaluations.label_version_of(choices, split))
if suggestion is None:
    st.warning(f"No threshold reaches precision {target:.2f} on these queries; the best is "
               f"{max((p.precision or 0.0) for p in sweep.points):.2f}.")
else:
    a, b, c, d = st.columns(4)
    a.metric("Suggested threshold", f"{suggestion.threshold:.4g}",
             help=f"The lowest {sweep.score_kind} whose precision reaches the target {target:.2f}.")
    b.metric("Precision", f"{suggestion.precision:.2f}")
    c.metric("Recall", f"{suggestion.recall:.2f}")
    d.metric("Queries left with no result", f"{suggestion.queries_left_empty:.0%}")
    if warning := sweep.small_sample_warning(suggestion):
        st.warning(warning)
chosen = suggestion.threshold if suggestion is not None else None
if calibration is not None:
    # The chosen threshold starts at the suggestion and follows it when the suggestion changes (another target, a new
    # calibration); moved by hand, it stays where it was put, across pages too.
    suggested = suggestion.threshold if suggestion is not None else 0.7
    kept_state.restore({"thr_cal_keep": suggested})
    if st.session_state.get("_thr_cal_keep_seed") != suggested:
        st.session_state["_thr_cal_keep_seed"] = st.session_state["thr_cal_keep"] = suggested
    chosen = st.slider("Chosen threshold: keep results with a calibrated probability of at least", 0.0, 1.0,
                       step=0.01, format="%.4f", key="thr_cal_keep",
                       help="It starts at the suggested threshold; the Search page and the exported pipeline apply "
                            "the threshold chosen here.")
    at = sweep.at(chosen)
    a, b, c, d = st.columns(4)
    a.metric("Results kept", f"{at.kept} of {len(sweep.results)}")
    b.metric("Precision", f"{at.precision:.2f}" if at.precision is not None else "nothing kept")
    c.metric("Recall", f"{at.recall:.2f}")
    d.metric("Queries left with no result", f"{at.queries_left_empty:.0%}")
    st.caption(f"On '{evaluation.config.split}', which the calibration was not fitted on. The exported file holds the "
               f"calibration, so a service keeps the results whose calibrated probability is at least {chosen:.4g}, "
               "as here.")
    moved = suggestion is None or chosen != suggestion.threshold  # else its warning is given above
    if moved and (warning := sweep.small_sample_warning(at)):
        st.warning(warning)
if chosen is not None:
    which = ("suggested" if suggestion is not None and chosen == suggestion.threshold else "chosen")
    kind = "probability" if sweep.score_kind in ("probability", "calibrated probability") else "raw"
    # the Search page thresholds the raw score (or the reranker's own probability): a calibrated probability is
    # handed over as the raw score where the calibration reaches it, which keeps the same results
    raw_equivalent = calibration.raw_threshold(chosen) if calibration is not None else None
    if raw_equivalent is not None and not math.isfinite(raw_equivalent):
        st.caption("The Search page cannot take this threshold: every score or none reaches it once calibrated.")
    elif st.button(f"Use the {which} threshold on the Search page", key="adopt_threshold"):
        if raw_equivalent is not None:
            # a reranker with a probability of its own is cut on it there: the same cut-off, through its sigmoid
            own_probability = all(o.probabilities is not None for o in evaluation.outcomes)
            handed = 0.5 * (1.0 + math.tanh(raw_equivalent / 2)) if own_probability else raw_equivalent
            adopt_threshold_next_run(round(float(handed), 4), own_probability)
            on = "the reranker's own probability" if own_probability else "raw score"
            st.session_state["_threshold_adopted"] = f"{handed:.4g} ({on}; calibrated probability {chosen:.4g})"
        else:
            adopt_threshold_next_run(round(float(chosen), 4), sweep.score_kind == "probability")
            st.session_state["_threshold_adopted"] = f"{chosen:.4g} ({sweep.score_kind})"
        st.rerun()
    export_button(evaluations.opened(request), Threshold(float(chosen), kind), measured, "export_threshold",
                  calibration=calibration)
    st.caption(f"The export writes the {which} threshold: keep results whose {sweep.score_kind} is at least "
               f"{chosen:.4g}" + (f" (the suggestion is {suggestion.threshold:.4g})."
                                  if which == "chosen" and suggestion is not None else "."))
    if "_threshold_adopted" in st.session_state:
        st.success(f"The Search page cuts off results under {st.session_state.pop('_threshold_adopted')}; "
                   "change it in the sidebar.")
st.plotly_chart(threshold_distribution_figure(sweep), key="threshold_distribution")
st.plotly_chart(threshold_curves_figure(sweep, chosen), key="threshold_curves")

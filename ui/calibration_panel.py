"""The Score threshold page's calibration section: fit a map from the reranker's score to a probability of relevance
on one labelled split, and show how well it holds on the page's split (held out); or, on a data set with one
labelled split, fit it on a random half of its queries and measure it on the other half."""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.charts import calibration_figure
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.score_calibration import HALVES_SEED, CalibrationReport, calibrate, calibrate_on_halves
from explorer.judging.coverage import Unjudged
from explorer.records import Dataset
from ui import evaluations, kept_state
from ui.sidebar import SidebarChoices

HALVES = "\x00a random half of the page's split"  # the fit choice that is no split name
METHODS = {"none": "none: threshold the score as it is",
           "platt": "Platt scaling (a logistic curve)",
           "isotonic": "isotonic regression (a rising step curve)"}
EXPLANATION = (
    "A reranker's raw score orders results, but a number such as 3.2 says nothing by itself, and a trained model's "
    "own probability is often far from how often its results are really relevant. **Calibration** learns, from "
    "labelled results, the probability that a result in a query's top n is relevant given its score. Then "
    "\"keep results with p ≥ 0.7\" means: of the results kept, about 7 in 10 or more are relevant, on queries like "
    "the labelled ones, and it means the same wherever the exported pipeline runs (the file holds the calibration). "
    "It is fitted on one labelled split and measured on the split chosen above, which it has not seen (or, on a "
    "data set with one labelled split, fitted on a random half of its queries and measured on the other half): the "
    "Brier score (mean squared error of the probability; lower is better) and the expected calibration error (the "
    "average gap between predicted probability and the share relevant; 0 is perfect).")


def calibration_panel(choices: SidebarChoices, data: Dataset, held_out: Evaluation, unjudged: Unjudged,
                      relevant_grade: int) -> CalibrationReport | None:
    """The calibration chosen on the page, fitted and measured on ``held_out`` (None when none is chosen, or it
    cannot be fitted: the page says why)."""
    kept_state.restore({"thr_cal_method": "none"})  # kept across pages (see pages/7_Thresholds.py)
    method = st.session_state["thr_cal_method"]
    with st.expander("Calibrate the scores into a probability of relevance", expanded=method != "none"):
        st.markdown(EXPLANATION)
        left, right = st.columns(2)
        method = left.selectbox("Calibration", list(METHODS), format_func=METHODS.__getitem__, key="thr_cal_method")
        split = held_out.config.split
        options = [name for name in data.splits if name != split] + [HALVES]
        default = "train" if "train" in options else options[0]  # another split when there is one
        kept_state.restore({"thr_cal_split": default})
        if st.session_state["thr_cal_split"] not in options:  # kept from another data set or split
            st.session_state["thr_cal_split"] = default
        fit_split = right.selectbox(
            "Fit it on", options, key="thr_cal_split",
            format_func=lambda name: (f"a random half of '{split}' (measured on the other half)" if name == HALVES
                                      else f"the labelled split '{name}'"),
            help="Another labelled split when the data set has one; else a random half of this split's queries "
                 f"(seed {HALVES_SEED}, always the same half), measured on the other half.")
        if method == "none":
            return None
        try:
            if fit_split == HALVES:
                report = calibrate_on_halves(held_out, method, top_n=choices.top_n, relevant_grade=relevant_grade)
            else:
                request = evaluations.request_from(choices, fit_split)
                if not evaluations.was_requested(request):
                    st.info(f"The calibration is fitted on the reranker's scores of '{fit_split}', from an "
                            f"evaluation of it ({evaluations.describe(request)}, depth {request.spec.depth}).")
                    if not st.button("Fit the calibration", type="primary", key="thr_cal_run"):
                        return None
                fit_on = evaluations.run(request).counting(unjudged)
                report = calibrate(fit_on, held_out, method, top_n=choices.top_n, relevant_grade=relevant_grade)
        except ExplorerError as exc:
            st.error(str(exc))
            return None
        _show(report, split)
    return report


def _show(report: CalibrationReport, split: str) -> None:
    after, before = report.after, report.before
    if report.held_out_queries:
        st.caption(f"This split, '{split}', is cut in two at random (seed {HALVES_SEED}): the calibration is fitted "
                   f"on one half and measured on the other, {len(report.held_out_queries)} queries; the threshold "
                   "figures below are on that half too, which the calibration has not seen.")
    st.caption(f"{report.calibration.describe()}. Measured on '{report.held_out_split}' ({after.pairs} results), "
               "which it was not fitted on. Unjudged results count as the page counts them.")
    for warning in report.warnings:
        st.warning(warning)
    columns = st.columns(4)
    columns[0].metric("Brier score, calibrated", f"{after.brier:.4f}",
                      delta=f"{after.brier - before.brier:+.4f}" if before else None, delta_color="inverse")
    columns[1].metric("Calibration error (ECE), calibrated", f"{after.ece:.4f}",
                      delta=f"{after.ece - before.ece:+.4f}" if before else None, delta_color="inverse")
    if before is not None:
        columns[2].metric("Brier score, reranker's own probability", f"{before.brier:.4f}")
        columns[3].metric("ECE, reranker's own probability", f"{before.ece:.4f}")
    else:
        columns[2].metric("Brier score, always the share relevant", f"{report.no_skill_brier:.4f}",
                          help=f"Answering {report.base_rate:.2f} (the share relevant where it was fitted) for every "
                               "result: a useful probability scores lower.")
        columns[3].caption("This reranker gives no probability of its own (it is not a single-logit trained model): "
                           "there is no \"before\" to compare with, only the share relevant.")
    st.plotly_chart(calibration_figure(report), key="calibration_curve")

"""The Score threshold page's calibration section: fit a map from the reranker's score to a probability of relevance
on one labelled split, and show how well it holds on the page's split (held out)."""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.charts import calibration_figure
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.score_calibration import CalibrationReport, calibrate
from explorer.judging.coverage import Unjudged
from explorer.records import Dataset
from ui import evaluations
from ui.sidebar import SidebarChoices

METHODS = {"none": "none: threshold the score as it is",
           "platt": "Platt scaling (a logistic curve)",
           "isotonic": "isotonic regression (a rising step curve)"}
EXPLANATION = (
    "A reranker's raw score orders results, but a number such as 3.2 says nothing by itself, and a trained model's "
    "own probability is often far from how often its results are really relevant. **Calibration** learns, from "
    "labelled results, the probability that a result in a query's top n is relevant given its score. Then "
    "\"keep results with p ≥ 0.7\" means: of the results kept, about 7 in 10 or more are relevant, on queries like "
    "the labelled ones, and it means the same wherever the exported pipeline runs (the file holds the calibration). "
    "It is fitted on one labelled split and measured on the split chosen above, which it has not seen: the Brier "
    "score (mean squared error of the probability; lower is better) and the expected calibration error (the average "
    "gap between predicted probability and the share relevant; 0 is perfect).")


def calibration_panel(choices: SidebarChoices, data: Dataset, held_out: Evaluation, unjudged: Unjudged,
                      relevant_grade: int) -> CalibrationReport | None:
    """The calibration chosen on the page, fitted and measured on ``held_out`` (None when none is chosen, or it
    cannot be fitted: the page says why)."""
    method = st.session_state.get("thr_cal_method", "none")
    with st.expander("Calibrate the scores into a probability of relevance", expanded=method != "none"):
        st.markdown(EXPLANATION)
        left, right = st.columns(2)
        method = left.selectbox("Calibration", list(METHODS), format_func=METHODS.__getitem__, key="thr_cal_method")
        split = held_out.config.split
        others = [name for name in data.splits if name != split]
        if not others:
            st.info(f"A calibration is fitted on one labelled split and measured on another, and this data set has "
                    f"only '{split}'. Load labels of a second split, or judge queries on the Judge page.")
            return None
        fit_split = right.selectbox("Fit it on the labelled split", others, key="thr_cal_split",
                                    index=others.index("train") if "train" in others else 0)
        if method == "none":
            return None
        request = evaluations.request_from(choices, fit_split)
        if not evaluations.was_requested(request):
            st.info(f"The calibration is fitted on the reranker's scores of '{fit_split}', from an evaluation of it "
                    f"({evaluations.describe(request)}, depth {request.spec.depth}).")
            if not st.button("Fit the calibration", type="primary", key="thr_cal_run"):
                return None
        try:
            fit_on = evaluations.run(request).counting(unjudged)
            report = calibrate(fit_on, held_out, method, top_n=choices.top_n, relevant_grade=relevant_grade)
        except ExplorerError as exc:
            st.error(str(exc))
            return None
        _show(report)
    return report


def _show(report: CalibrationReport) -> None:
    after, before = report.after, report.before
    st.caption(f"{report.calibration.describe()}. Measured on '{report.held_out_split}' ({after.pairs} results), "
               "which it was not fitted on. Unjudged results count as the page counts them.")
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

"""The Evaluate page's signals section: relevance alone against relevance with the sidebar's signals, the redundancy
of the top 10 with and without diversity, and a search of the signals' weights on another split."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.comparison import final_stage
from explorer.evaluation.runner import Evaluation
from explorer.evaluation.signalled import redundancy_of, search_weights, with_signals
from explorer.evaluation.significance import paired_test
from explorer.records import Dataset
from explorer.signals.config import Authority, Freshness, NumberSignal, SignalConfig
from ui import cache, evaluations
from ui.number_columns import number_columns
from ui.sidebar import PENDING_THRESHOLD, SidebarChoices
from ui.plain_text import markdown_literal

SEARCHED = "_signal_weights_found"  # (request, tune split, WeightSearch) of the last weight search
# the sidebar's weight slider of each kind of signal
WEIGHT_KEYS = {Freshness: "sig_fresh_weight", Authority: "sig_auth_weight", NumberSignal: "sig_num_weight"}


def show_signals_section(choices: SidebarChoices, data: Dataset, evaluation: Evaluation,
                         request: evaluations.EvalRequest, metrics: list[str], relevant_grade: int) -> None:
    """The section, under its own heading; a caption only where the sidebar's signals are off."""
    st.subheader("Signals: freshness, authority, diversity")
    config = choices.signals
    if config is None:
        st.caption("Turn on 'Mix in signals' in the sidebar to measure what freshness, authority, a number field or "
                   "diversity do to these queries (nothing is scored again: the lists above are reordered).")
        return
    labelled = cache.labelled_dataset(choices.dataset_path)
    vectors = evaluations.opened(request).pipeline.document_vectors
    try:
        signalled = evaluations.with_sidebar_signals(evaluation, request, config)
    except ExplorerError as exc:
        st.error(markdown_literal(str(exc)))
        return
    stage = final_stage(evaluation)
    names = [m for m in metrics if m != "map"][:6]
    before = {m: _mean(evaluation.stage_values(stage, m, relevant_grade)) for m in names}
    after = {m: _mean(signalled.stage_values(stage, m, relevant_grade)) for m in names}
    table = pd.DataFrame({"metric": names, "relevance only": [before[m] for m in names],
                          "with signals": [after[m] for m in names],
                          "change": [after[m] - before[m] for m in names]})
    st.dataframe(table, hide_index=True, key="signals_metrics", column_config=number_columns(table))
    headline = "ndcg@10" if "ndcg@10" in names else names[0]
    test = paired_test(evaluation.stage_values(stage, headline, relevant_grade),
                       signalled.stage_values(stage, headline, relevant_grade), headline)
    _, said = test.verdict(what="the signals")
    st.caption(markdown_literal(f"{config.describe()} · {said}"))
    parent = config.diversity.field if config.diversity is not None and config.diversity.mode == "per-parent" else ""
    _redundancy(evaluation, signalled, labelled, config, vectors, parent)
    _weight_search(choices, labelled, evaluation, request, config, headline)


def _mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values) if values else 0.0


def _redundancy(evaluation: Evaluation, signalled: Evaluation, dataset: Dataset, config: SignalConfig,
                vectors, parent: str) -> None:
    """The mean pairwise cosine and distinct parents of the top 10: relevance only, signals, signals + diversity."""
    rows = {"relevance only": evaluation}
    if config.diversity is not None:
        rows["signals without diversity"] = with_signals(evaluation, dataset, replace(config, diversity=None), vectors)
    rows["signals" + (f" + {config.diversity.label}" if config.diversity else "")] = signalled
    figures = []
    for name, each in rows.items():
        figure = redundancy_of(each, dataset, vectors, parent)
        figures.append({"ranking": name, "mean pairwise cosine of the top 10": figure.mean_pairwise_cosine,
                        f"distinct {parent or 'document'}s in the top 10": figure.distinct_parents})
    shown = pd.DataFrame(figures)
    distinct = [name for name in shown.columns if name.startswith("distinct")]
    st.dataframe(shown, hide_index=True, key="signals_redundancy", column_config=number_columns(
        shown, **{name: st.column_config.NumberColumn(format="%.1f") for name in distinct}))
    st.caption("Redundancy: the mean cosine between the bi-encoder's vectors of each pair in a query's top 10 "
               "(lower: more varied), averaged over the queries.")


def _weight_search(choices: SidebarChoices, dataset: Dataset, evaluation: Evaluation,
                   request: evaluations.EvalRequest, config: SignalConfig, metric: str) -> None:
    """Search the weights on another split, measure them on this one, and offer them to the sidebar."""
    others = [split for split in dataset.splits if split != request.split]
    if not config.signals or not others:
        st.caption("A weight search needs at least one signal and a second labelled split to tune on.")
        return
    if config.diversity is not None and config.diversity.mode == "per-parent":
        config = replace(config, diversity=None)
        st.caption("The weight search leaves the per-parent cap out (it applies after the weights).")
    left, right = st.columns([1, 2])
    tune_split = left.selectbox("Tune the weights on", others, key="signals_tune_split")
    right.caption(f"Every weight on a grid (0 to 0.5 each, at most 0.9 in all) is tried on '{tune_split}', the best "
                  f"by {metric} is measured on '{request.split}': tuned weights may not carry over, so both are shown.")
    if st.button("Search the weights", key="signals_search"):
        try:
            tune = evaluations.run(evaluations.EvalRequest(request.spec, tune_split)).counting(evaluation.unjudged)
            with st.spinner("Trying each weight…"):
                found = search_weights(tune, evaluation, dataset, config, metric,
                                       evaluations.opened(request).pipeline.document_vectors)
            st.session_state[SEARCHED] = (request, tune_split, config, found)
        except ExplorerError as exc:
            st.error(markdown_literal(str(exc)))
    kept = st.session_state.get(SEARCHED)
    if not kept or kept[0] != request or kept[1] != tune_split or kept[2] != config:
        return
    found = kept[3]
    (st.success if found.carried_over else st.warning)(markdown_literal(found.summary()))
    trials = pd.DataFrame([{**{signal.label: weight for signal, weight in zip(config.signals, trial.weights)},
                            f"{metric} on {tune_split}": trial.value} for trial in found.trials[:10]])
    st.dataframe(trials, hide_index=True, key="signals_trials", column_config=number_columns(trials))
    if st.button("Use these weights in the sidebar", key="signals_adopt"):
        st.session_state[PENDING_THRESHOLD] = {WEIGHT_KEYS[type(signal)]: float(signal.weight)
                                               for signal in found.best.signals}
        st.rerun()

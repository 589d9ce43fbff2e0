"""Snapshots page: evaluations saved under a name, listed, compared side by side, and reported on."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.evaluation.charts import comparison_scatter, per_query_delta_figure
from explorer.evaluation.comparison import compare
from explorer.evaluation.html_report import evaluation_report, report_file_name
from explorer.evaluation.significance import TESTS
from explorer.evaluation.snapshots import configuration_texts, diff
from explorer.evaluation.tables import comparison_table
from explorer.judging.datasets import dataset_key
from ui import cache
from ui.number_columns import number_columns
from ui.page_start import start_page

METRICS = ["ndcg@10", "mrr@10", "recall@100", "map@100"]

choices, data = start_page("Snapshots", "Evaluations saved under a name (Save as a snapshot on the Evaluate page, or "
                           "`eval --snapshot NAME`). Each keeps its configuration, its per-query results and the "
                           "labels it was scored with, so it reads the same after the labels change.")
store = cache.snapshots()
key = dataset_key(choices.dataset_path)
names = store.names(key)
if not names:
    st.info("No snapshot of this data set yet. Run an evaluation on the Evaluate page and save it as a snapshot.")
    st.stop()

try:
    saved = {name: store.get(name) for name in names}
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
rows = []
# the settings that tell the snapshots apart (a blend, a bi-encoder) are part of each configuration's text
described = configuration_texts([snapshot.evaluation for snapshot in saved.values()])
for (name, snapshot), configuration in zip(saved.items(), described):
    evaluation = snapshot.evaluation
    final = evaluation.stages()[-1]
    rows.append({"name": name, "saved": dt.datetime.fromtimestamp(snapshot.saved_at).strftime("%Y-%m-%d %H:%M"),
                 "configuration": configuration, "split": evaluation.config.split,
                 "queries": len(evaluation.outcomes), "depth": evaluation.config.depth,
                 "nDCG@10": evaluation.metrics(["ndcg@10"])[final]["ndcg@10"],
                 "unjudged": evaluation.unjudged, "labels": snapshot.label_version})
listed = pd.DataFrame(rows)
st.dataframe(listed, hide_index=True, key="snapshot_list",
             column_config=number_columns(listed, configuration=st.column_config.TextColumn(width="large"),
                                          labels=st.column_config.TextColumn(width="large")))

st.subheader("Compare")
left, middle, right = st.columns([3, 1, 1])
picked = left.multiselect("Snapshots to compare (the first is the baseline)", names, default=names[:2][::-1],
                          key="snap_picked")
metric = middle.selectbox("Metric", METRICS, key="snap_metric")
test_name = right.selectbox("Paired test", TESTS, key="snap_test")
if len(picked) >= 2:
    chosen = [saved[name] for name in picked]
    try:
        changes = diff(chosen, METRICS, metric)
        compared = compare([s.evaluation for s in chosen], list(dict.fromkeys([metric, *METRICS])),
                           test_metric=metric, test=test_name)
    except ExplorerError as exc:
        st.error(str(exc))
        st.stop()
    # snapshot names, not configuration names, label the rows: two snapshots may share a configuration
    rows_compared = [replace(row, name=name) for row, name in zip(compared, picked)]
    table = comparison_table(rows_compared).rename(columns={"configuration": "snapshot"})
    st.dataframe(table, hide_index=True, key="snap_table",
                 column_config=number_columns(table, **{"vs baseline": st.column_config.TextColumn(width="medium")}))
    st.caption(f"Each snapshot against {picked[0]}: {test_name} on {metric}; Δ is its mean change.")
    for name, per_query in changes.per_query.items():
        better = sum(1 for value in per_query.values() if value > 1e-9)
        worse = sum(1 for value in per_query.values() if value < -1e-9)
        # snapshot names are typed by people: shown as plain text, never read as markdown
        st.text(f"{name} against {picked[0]} ({metric}): {better} queries better, {worse} worse, "
                f"{len(per_query) - better - worse} the same.")
        texts = chosen[0].evaluation.query_texts
        st.plotly_chart(per_query_delta_figure(per_query, metric, texts, change=f"{name} − {picked[0]}"),
                        key=f"snap_delta_{name}")
    st.plotly_chart(comparison_scatter(rows_compared, metric), key="snap_scatter")
else:
    st.info("Pick two snapshots or more to compare them.")

st.subheader("One snapshot")
left, right = st.columns([3, 1])
one = left.selectbox("Snapshot", names, key="snap_one")
snapshot = saved[one]
st.caption(f"{configuration_texts([snapshot.evaluation], every_setting=True)[0]} · {snapshot.label_version} · "
           f"saved {dt.datetime.fromtimestamp(snapshot.saved_at):%Y-%m-%d %H:%M}.")
if right.button("Build its HTML report", key="snap_build_report"):
    st.session_state["_snap_report"] = (one, evaluation_report(
        snapshot.evaluation, metric=metric, labels=f"snapshot '{one}', {snapshot.label_version}",
        titles=data.title_of, scale=data.grade_scale))
built = st.session_state.get("_snap_report")
if built and built[0] == one:
    right.download_button("Download the report (HTML)", built[1], file_name=report_file_name(key, one),
                          mime="text/html", key="snap_report")
with st.expander("Delete this snapshot"):
    if st.button(f"Delete '{one}' for good", key="snap_delete"):
        store.remove(one)
        st.session_state.pop("snap_picked", None)
        st.rerun()

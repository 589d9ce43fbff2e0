"""Shows a load report: counts, then every warning with its file and line."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.loading import LoadReport


def show_report(report: LoadReport, counts: bool = True) -> None:
    """The report; ``counts``: with its counts first (off where the page shows the data set's own counts)."""
    if counts:
        columns = st.columns(5)
        columns[0].metric("Documents", f"{report.documents:,}")
        columns[1].metric("Queries", f"{report.queries:,}")
        columns[2].metric("Labelled queries", f"{report.labelled_queries:,}")
        columns[3].metric("Labels", f"{report.labels:,}")
        columns[4].metric("Warnings", f"{report.warnings:,}")
    if not report.warnings:
        st.success("No problems found.")
        return
    summary = ", ".join(f"{kind}: {count:,}" for kind, count in sorted(report.problem_counts.items()))
    st.warning(f"Loaded, with warnings: {summary}. The lines named below were skipped or kept as described.")
    table = pd.DataFrame([{"problem": p.kind, "file": p.file, "line": p.line, "what happened": p.message}
                          for p in report.problems], columns=["problem", "file", "line", "what happened"])
    st.dataframe(table, hide_index=True, key="problem_table",
                 column_config={"what happened": st.column_config.TextColumn(width="large")})
    hidden = sum(report.problem_counts.values()) - len(report.problems)
    if hidden:
        st.caption(f"{hidden:,} more warning(s) of the same kinds are counted but not listed.")

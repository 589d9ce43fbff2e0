"""The Judge page's side work: queries to judge next, importing a query set or qrels, exporting the labels, the
raters' agreement with the disagreements to settle, and the rule that makes several grades one."""

from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from explorer.errors import ExplorerError
from explorer.judging.agreement import Disagreement, agreement
from explorer.judging.labels import RULES, combined
from explorer.judging.qrels_io import import_qrels, qrels_text
from explorer.judging.query_sets import read_query_set
from explorer.judging.scale import scale_of
from explorer.judging.store import JudgementStore
from explorer.records import Dataset
from ui import cache

QUERY_FILE_TYPES = ["txt", "csv", "tsv"]
QRELS_FILE_TYPES = ["txt", "tsv", "qrels"]


def uploaded_text(upload) -> str | None:
    """The uploaded file's text; None, with the reason shown, when it is over the upload limit or not UTF-8."""
    limit = cache.settings().max_upload_mb
    if upload.size > limit * 1024 * 1024:
        st.error(f"The file is {upload.size / 1024 / 1024:.0f} MB; the limit is {limit} MB "
                 "(setting EXPLORER_MAX_UPLOAD_MB).")
        return None
    try:
        return upload.getvalue().decode("utf-8-sig")
    except UnicodeDecodeError:
        st.error(f"{upload.name} is not UTF-8 text; save it as UTF-8 and try again.")
        return None


def open_query(text: str) -> None:
    """Makes ``text`` the query being judged, one document at a time (a button's callback: it runs before the query
    box is drawn)."""
    st.session_state["judge_query"] = text
    st.session_state["judge_view"] = "One at a time"


def queries_to_judge(store: JudgementStore, key: str, rater: str, data: Dataset) -> bool:
    """The recorded queries (imported or typed) this rater has not judged yet, to open one; whether the list of them
    ("Queries to judge") is shown."""
    recorded = store.queries(key)
    if not recorded:
        return False
    mine = {j.query_id for j in store.judgements(key, rater=rater)}
    waiting = {query_id: text for query_id, text in recorded.items() if query_id not in mine}
    left, right = st.columns([4, 1])
    if not waiting:
        left.caption(f"Every one of the {len(recorded)} recorded queries has grades from {rater}.")
        return False
    picked = left.selectbox(f"Queries to judge ({len(waiting)} of {len(recorded)} recorded have no grade from you)",
                            list(waiting), format_func=waiting.get, key="judge_waiting")
    right.write("")
    right.button("Judge this query", key="judge_open_waiting", on_click=open_query, args=(waiting[picked],))
    return True


def import_query_set(store: JudgementStore, key: str) -> None:
    """A file of queries (a query log; text, one per line, or CSV with a 'query' column), optionally sampled."""
    upload = st.file_uploader("A file of queries: one per line, or a CSV/TSV with a 'query' column",
                              type=QUERY_FILE_TYPES, key="judge_query_file")
    sample = st.number_input("Sample this many (0: all of them)", 0, 100_000, 0, key="judge_query_sample",
                             help="A random sample with a fixed seed: the same file and number give the same queries.")
    if upload is None or not st.button("Add these queries", key="judge_query_import"):
        return
    text = uploaded_text(upload)
    if text is None:
        return
    try:
        query_set = read_query_set(text, upload.name, int(sample) or None)
        store.add_queries(key, list(query_set.queries))
    except ExplorerError as exc:
        st.error(str(exc))
        return
    st.success(query_set.summary + " Pick them under 'Queries to judge', at the top of the page.")
    for problem in query_set.skipped[:20]:
        st.caption(problem)


def import_and_export(store: JudgementStore, key: str, rater: str, data: Dataset) -> None:
    """TREC qrels in (as this rater's grades, checked line by line) and out (one label per pair, by the rule)."""
    judgements = store.judgements(key)
    rule = store.rule(key)
    st.download_button(f"Export the judgements as TREC qrels ({rule} of the raters' grades)",
                       qrels_text(combined(judgements, rule)) if judgements else "",
                       file_name=f"{key}.judged.qrels", mime="text/plain", key="judge_export",
                       disabled=not judgements)
    upload = st.file_uploader(f"Import TREC qrels as {rater}'s grades (query, 0, document, grade per line)",
                              type=QRELS_FILE_TYPES, key="judge_qrels_file")
    if upload is None or not st.button("Import these grades", key="judge_qrels_import"):
        return
    text = uploaded_text(upload)
    if text is None:
        return
    try:
        report = import_qrels(text, store, key, rater, set(data.queries) | set(store.queries(key)),
                              {doc.doc_id for doc in data.documents}, scale_of(store, key, data).grades)
    except ExplorerError as exc:
        st.error(str(exc))
        return
    (st.warning if report.problems else st.success)(report.summary)
    if report.problems:
        st.dataframe(pd.DataFrame({"problem": list(report.problems)}), hide_index=True, key="judge_import_problems")


def raters_and_rule(store: JudgementStore, key: str, data: Dataset) -> None:
    """Agreement where raters overlap, the disagreements (largest first) to settle, and the rule."""
    rule = store.rule(key)
    chosen = st.selectbox("How several raters' grades become one label", list(RULES), index=list(RULES).index(rule),
                          format_func=lambda name: f"{name}: {RULES[name]}", key="judge_rule",
                          help="Evaluate, Score threshold, Compare, the command line and the reports use this rule.")
    if chosen != rule:
        store.set_rule(key, chosen)
    result = agreement(store.judgements(key), scale_of(store, key, data).grades)
    st.write(result.summary)
    if not result.disagreements:
        return
    texts = {**{q.query_id: q.text for q in data.queries.values()}, **store.queries(key)}
    rows, queries = disagreement_rows(result.disagreements, texts, lambda doc_id: _title(data, doc_id))
    raters = sorted({rater for d in result.disagreements for rater in d.grades})
    columns = {rater_column(rater): st.column_config.NumberColumn(rater, width="small", format="%d")
               for rater in raters}
    columns["query"] = st.column_config.TextColumn("query", width="medium",
                                                   help="Shown once, on the first of its documents")
    table = pd.DataFrame(rows, columns=["query", "document", *(rater_column(r) for r in raters), "spread"])
    event = st.dataframe(table, hide_index=True, key="judge_disagreements", on_select="rerun",
                         selection_mode="single-row", column_config=columns)
    picked = list(event["selection"]["rows"]) if event else []
    if picked:
        st.button("Settle it: judge this query again", key="judge_settle", on_click=open_query,
                  args=(queries[picked[0]],))


def disagreement_rows(disagreements: list[Disagreement], texts: dict[str, str],
                      title: Callable[[str], str]) -> tuple[list[dict[str, object]], list[str]]:
    """The disagreements table, grouped by query (the query's text on the first of its rows only), with one column
    of grades per rater (so no grade is cut off); and each row's query text, for the row a user picks."""
    widest: dict[str, int] = {}
    for d in disagreements:
        widest[d.query_id] = max(widest.get(d.query_id, 0), d.spread)
    # the queries with the widest disagreement first, each query's documents together
    ordered = sorted(disagreements, key=lambda d: (-widest[d.query_id], d.query_id, -d.spread))
    rows: list[dict[str, object]] = []
    queries: list[str] = []
    for position, d in enumerate(ordered):
        text = texts.get(d.query_id, d.query_id)
        first = position == 0 or ordered[position - 1].query_id != d.query_id
        grades = {rater_column(rater): grade for rater, grade in d.grades.items()}
        rows.append({"query": text if first else "", "document": title(d.doc_id), **grades, "spread": d.spread})
        queries.append(text)
    return rows, queries


def rater_column(rater: str) -> str:
    """A rater's column in the disagreements table (a rater named like another column gets a suffix)."""
    return f"{rater} (rater)" if rater in ("query", "document", "spread") else rater


def _title(data: Dataset, doc_id: str) -> str:
    try:
        doc = data.document(doc_id)
    except (KeyError, ExplorerError):
        return doc_id
    return (doc.title or doc.text)[:120]

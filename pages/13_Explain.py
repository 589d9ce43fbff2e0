"""Explanations page: what in the document moved the reranker's score, how far each explanation can be trusted, why
one document is above another, and what the first stage saw that the reranker did not."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.errors import ExplorerError
from explorer.explain.faithfulness import METHODS, engine_scorer, explain_pair
from explorer.explain.first_stage import bi_encoder_scorer
from explorer.explain.highlight import marked_text_html
from explorer.explain.occlusion import MAX_CALLS, occlude, query_term_effects
from explorer.explain.pairwise import pair_gap
from explorer.explain.spans import Span, runs_of, sentence_spans, word_spans
from explorer.records import Dataset
from ui import cache
from ui.explain_link import A_KEY, B_KEY, QUERY_KEY, take_request
from ui.page_start import start_page, with_attached_documents

PIECES = {"sentences": 0, "runs of 5 words": 5, "runs of 2 words": 2}
COLOURS = {"random": "#8c959f", "attention": "#d4a72c", "rollout": "#bc4c00", "integrated_gradients": "#8250df",
           "occlusion": "#1a7f37"}

choices, data = start_page("See why: what moved the score",
                           "Which parts of a document raise or lower the reranker's score, measured by taking them "
                           "out (occlusion) and by integrated gradients; how faithful each explanation is (deletion "
                           "curves, against attention); why one document is above another; and what the first "
                           "stage saw.")
if not choices.reranker:
    st.info("The explanations are of the reranker's score: choose a reranker in the sidebar.")
    st.stop()


def default_request(dataset: Dataset) -> tuple[str, str, str]:
    """A labelled query with its two best-labelled documents, so the page shows something on a first visit."""
    queries = dataset.labelled_queries("test") or dataset.labelled_queries()
    if not queries:
        return "", "", ""
    labels = dataset.labels_for(queries[0].query_id)
    ranked = sorted(labels, key=lambda doc_id: (-labels[doc_id], doc_id))
    return queries[0].text, ranked[0], ranked[1] if len(ranked) > 1 else ""


try:
    data = with_attached_documents(choices, data)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
take_request(default_request(data))
left, middle, right = st.columns([3, 1, 1])
query = left.text_input("Query", key=QUERY_KEY)
doc_a = middle.text_input("Document A", key=A_KEY).strip()
doc_b = right.text_input("Document B (for why A is above B)", key=B_KEY).strip()
if not query.strip():
    st.info("Type a query.")
    st.stop()


def text_of(doc_id: str) -> str:
    try:
        return data.document(doc_id).full_text
    except KeyError:
        st.error(f"There is no document {doc_id!r} in this data set. Select a row on the Search page and press "
                 "See why, or enter a document id from the Data set page.")
        st.stop()


text_a = text_of(doc_a)
try:
    reranker = cache.reranker(choices.reranker, choices.device, choices.trust_remote_code)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
scorer = engine_scorer(reranker)
local = reranker.info.source != "remote"
st.caption(f"Reranker: {reranker.info.loaded}. Document text is shown as text; green raises the score, red lowers "
           "it, darker for a larger effect.")


def effects_table(effects, unit: str) -> pd.DataFrame:
    return pd.DataFrame([{"piece": e.span.text, unit: round(e.drop, 4)} for e in effects])


def pieces_of(text: str, choice: str) -> list[Span]:
    size = PIECES[choice]
    return sentence_spans(text) if size == 0 else runs_of(word_spans(text), size, text)


tab_one, tab_pair, tab_move = st.tabs(["This document (A)", "Why A above B", "Why did it move"])

with tab_one:
    st.text(f"{doc_a}: {data.document(doc_a).title or '(untitled)'}")
    choice = st.radio("Take out", list(PIECES), horizontal=True, key="explain_pieces")
    try:
        occluded = occlude(scorer, query, text_a, pieces_of(text_a, choice))
    except ExplorerError as exc:
        st.error(str(exc))
        st.stop()
    st.caption(f"Score {occluded.score:.4f}. Occlusion cost {occluded.calls} scored pairs (at most {MAX_CALLS}); "
               "each piece's value is the score's drop without it.")
    st.iframe(marked_text_html(text_a, [(e.span, e.drop) for e in occluded.effects], "drop without it"),
              height="content")
    st.dataframe(effects_table(occluded.ranked()[:10], "score drop without it"), hide_index=True,
                 key="explain_occlusion_table")
    try:
        terms = query_term_effects(scorer, query, text_a)
        st.caption("The query's words: the score's drop when each is taken out of the query.")
        st.dataframe(effects_table(terms.ranked(), "score drop without it"), hide_index=True, key="explain_terms")
    except ExplorerError as exc:
        st.caption(str(exc))
    if local and st.button("Integrated gradients (a few seconds)", key="explain_ig"):
        try:
            explainer = cache.gradient_explainer(choices.reranker, choices.device, choices.trust_remote_code)
            st.session_state["_explain_ig"] = (query, doc_a, explainer.attribute(query, text_a))
        except ExplorerError as exc:
            st.error(str(exc))
    kept = st.session_state.get("_explain_ig")
    if kept and kept[:2] == (query, doc_a):
        attributed = kept[2]
        st.iframe(marked_text_html(text_a, [(Span(w.start, w.end, w.word), w.weight) for w in attributed.words],
                                   "attribution"), height="content")
        check = "holds" if attributed.complete else "does NOT hold"
        st.caption(f"Integrated gradients ({attributed.steps} steps, against the query with a blank document, score "
                   f"{attributed.baseline_score:.4f}): the attributions add up to {attributed.attribution_sum:.4f}; "
                   f"the score difference is {attributed.score - attributed.baseline_score:.4f} (gap "
                   f"{attributed.completeness_gap:+.4f}): completeness {check} within 5%.")
    st.subheader("Which explanation does this score follow?")
    st.caption("Deletion curves: the top 10%, 20%, … of the words by each method taken out, the pair scored again "
               "(1 = the whole text, 0 = every word out). The lower the area, the more the score follows that "
               "method. Costs about 120 scored pairs, and integrated gradients for a local model.")
    if st.button("Measure the deletion curves", key="explain_deletion"):
        try:
            gradients = (cache.gradient_explainer(choices.reranker, choices.device, choices.trust_remote_code)
                         if local else None)
            st.session_state["_explain_curves"] = (query, doc_a, explain_pair(
                reranker, scorer, query, text_a, doc_id=doc_a, gradients=gradients))
        except ExplorerError as exc:
            st.error(str(exc))
    kept = st.session_state.get("_explain_curves")
    if kept and kept[:2] == (query, doc_a):
        result = kept[2]
        if not result.curves:
            st.info("The score does not move when every word is taken out: there is nothing to explain.")
        else:
            figure = go.Figure()
            for method in METHODS:
                if method in result.curves:
                    curve = result.curves[method]
                    figure.add_trace(go.Scatter(x=list(curve.fractions), y=list(curve.curve), mode="lines+markers",
                                                name=f"{method} (AUC {curve.auc:.3f})",
                                                line=dict(color=COLOURS[method])))
            figure.update_layout(xaxis_title="share of the words taken out, most important first",
                                 yaxis_title="score (1 = whole text, 0 = no words)", height=380,
                                 margin=dict(l=70, r=20, t=30, b=60))
            st.plotly_chart(figure, key="explain_curves_chart")
            st.success(f"This pair's score follows {result.follows().replace('_', ' ')} most closely (the lowest "
                       "area under its deletion curve).")

with tab_pair:
    if not doc_b:
        st.info("Enter a document B (or press See why under a selected row on the Search page: B is the document "
                "ranked just below it).")
    else:
        text_b = text_of(doc_b)
        try:
            gap = pair_gap(scorer, query, text_a, text_b)
        except ExplorerError as exc:
            st.warning(str(exc))
        else:
            st.markdown(f"**A** scores {gap.score_a:.4f}, **B** {gap.score_b:.4f}: A is above B by {gap.gap:.4f}.")
            column_a, column_b = st.columns(2)
            for column, name, doc_id, text, occluded in ((column_a, "A", doc_a, text_a, gap.a),
                                                         (column_b, "B", doc_b, text_b, gap.b)):
                column.text(f"{name} = {doc_id}: {data.document(doc_id).title or '(untitled)'}")
                with column:
                    st.iframe(marked_text_html(text, [(e.span, e.drop) for e in occluded.effects],
                                               "drop without it"), height="content")
            rows = [{"document": "A", "piece": e.span.text, "share of the gap": round(e.drop / gap.gap, 3)}
                    for e in gap.a.ranked()[:5]]
            rows += [{"document": "B", "piece": e.span.text, "share of the gap": round(-e.drop / gap.gap, 3)}
                     for e in sorted(gap.b.effects, key=lambda e: e.drop)[:5]]
            st.caption("The pieces that account for the gap: A's pieces whose removal lowers A most, and B's whose "
                       "removal raises B most, each as a share of the gap.")
            st.dataframe(pd.DataFrame(rows), hide_index=True, key="explain_gap_table")
            found = gap.counterfactual
            if found.score is None:
                st.info(f"No deletion tried ({found.tried}, {found.unit}s of A taken out, the largest drop first) "
                        "puts A below B.")
            else:
                st.success(f"Taking out {len(found.removed)} {found.unit}(s) of A puts it below B: A then scores "
                           f"{found.score:.4f} < {gap.score_b:.4f}. (The smallest found, removing the largest drops "
                           f"first; {found.tried} deletions tried.)")
                st.dataframe(pd.DataFrame([{"taken out of A": span.text} for span in found.removed]),
                             hide_index=True, key="explain_counterfactual")

with tab_move:
    st.caption("Each sentence of A taken out, scored by the first stage (the bi-encoder's cosine) and by the "
               "reranker: where one drops and the other does not, one model saw what the other did not.")
    try:
        bi = cache.bi_encoder(choices.bi_encoder, choices.device, choices.trust_remote_code)
        spans = sentence_spans(text_a)
        first = occlude(bi_encoder_scorer(bi), query, text_a, spans)
        second = occlude(scorer, query, text_a, spans)
    except ExplorerError as exc:
        st.error(str(exc))
    else:
        column_first, column_second = st.columns(2)
        column_first.caption(f"First stage (bi-encoder cosine {first.score:.4f})")
        with column_first:
            st.iframe(marked_text_html(text_a, [(e.span, e.drop) for e in first.effects], "cosine drop"),
                      height="content")
        column_second.caption(f"Reranker (score {second.score:.4f})")
        with column_second:
            st.iframe(marked_text_html(text_a, [(e.span, e.drop) for e in second.effects], "score drop"),
                      height="content")
        st.dataframe(pd.DataFrame([{"sentence": a.span.text, "first stage: cosine drop": round(a.drop, 4),
                                    "reranker: score drop": round(b.drop, 4)}
                                   for a, b in zip(first.effects, second.effects)]), hide_index=True,
                     key="explain_move_table")

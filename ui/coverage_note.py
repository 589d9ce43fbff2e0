"""What every page with a metric says about the labels under it: judged@k of each list, how unjudged documents
count, a warning with a way to judge the holes where coverage is low, and agreement without labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from explorer.evaluation.metrics import RankedLists
from explorer.judging.coverage import LOW_COVERAGE, UNJUDGED_CHOICES, Coverage, Unjudged, coverage
from explorer.judging.overlap import stage_agreement

JUDGE_PAGE = "pages/9_Judge.py"
UNJUDGED_LABELS = {"not relevant": "count as not relevant",
                   "removed": "removed (condensed lists)"}


def unjudged_picker(key: str, where=st) -> Unjudged:
    """How documents nobody judged count in the metrics of this page."""
    return where.selectbox("Unjudged documents", list(UNJUDGED_CHOICES), format_func=UNJUDGED_LABELS.get, key=key,
                           help="Counting them as not relevant penalises a list for documents nobody judged; "
                                "removing them scores each list on its judged documents only.")


def show_coverage(lists: Sequence[tuple[str, RankedLists]], qrels: Mapping[str, Mapping[str, int]],
                  query_texts: Mapping[str, str], unjudged: Unjudged, key: str, k: int = 10) -> list[Coverage]:
    """judged@k of each named list (a caption), and a warning with a button to judge the least covered query
    where a list's judged@k is under ``LOW_COVERAGE``. Returns each list's coverage, in order."""
    covered = [(name, coverage(name, ranked, qrels, k)) for name, ranked in lists]
    st.caption(f"judged@{k} (the share of each list's top {k} that has a label): "
               + ", ".join(f"{name} {c.mean:.2f}" for name, c in covered) + f" · {UNJUDGED_CHOICES[unjudged]}.")
    low = [(name, c) for name, c in covered if c.is_low]
    if not low:
        return [c for _, c in covered]
    holes = sorted({q for _, c in low for q in c.low_queries},
                   key=lambda q: min(c.per_query.get(q, 1.0) for _, c in low))
    counted = ("they count as not relevant, which biases these numbers" if unjudged == "not relevant"
               else "they are left out of each list, so these numbers rest on fewer documents")
    st.warning(f"Under {LOW_COVERAGE:.0%} of the top {k} is judged ({', '.join(name for name, _ in low)}): {counted}. "
               + (f"{len(holes)} queries have holes" if len(holes) != 1 else "1 query has holes")
               + "; judging them makes the comparison fair.")
    if st.button("Judge the unjudged, least covered query first", key=f"judge_unjudged_{key}"):
        st.session_state["judge_query"] = query_texts[holes[0]]
        st.switch_page(JUDGE_PAGE)
    return [c for _, c in covered]


def show_overlap(first: tuple[str, RankedLists], second: tuple[str, RankedLists], k: int = 10) -> None:
    """Rank-biased overlap of two lists' top k per query, and the queries where they differ most (to judge first)."""
    alike = stage_agreement(first[1], second[1], k)
    rbo = sorted(alike.rbo.values())
    if not rbo:
        return
    st.caption(f"Without labels: {first[0]} and {second[0]} agree in their top {k} with a rank-biased overlap "
               f"(p = 0.9) of {rbo[0]:.2f} to {rbo[-1]:.2f} per query (median {rbo[len(rbo) // 2]:.2f}); where they "
               "differ most, judging tells most: " + ", ".join(alike.most_different[:5]) + ".")


def show_overlaps(baseline: tuple[str, RankedLists], others: Sequence[tuple[str, RankedLists]], k: int = 10) -> None:
    """One caption for several lists against a baseline, where labels cannot tell them apart: each list's median
    rank-biased overlap with the baseline's top k, and the queries where they differ most (to judge first)."""
    agreements = [(name, stage_agreement(baseline[1], ranked, k)) for name, ranked in others]
    medians = []
    most_different: list[str] = []
    for name, alike in agreements:
        rbo = sorted(alike.rbo.values())
        if rbo:
            medians.append(f"{name} {rbo[len(rbo) // 2]:.2f}")
            most_different += [q for q in alike.most_different[:5] if q not in most_different]
    if not medians:
        return
    st.caption(f"Without labels: against {baseline[0]}, the top {k} of each configuration agrees with a rank-biased "
               f"overlap (p = 0.9, median per query) of " + ", ".join(medians) + "; where they differ most, judging "
               "tells most: " + ", ".join(most_different[:5]) + ".")

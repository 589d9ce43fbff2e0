"""The Judge page's state: where a rater is in a query's pool, and saving a grade the moment it is given."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer.errors import ExplorerError
from explorer.judging.store import SCALES, Judgement
from ui import cache

POSITIONS = "_judge_positions"  # (data set, query id, rater, pool) -> index in the pool


@dataclass(frozen=True)
class JudgingTarget:
    """What is being judged: a query of a data set, by one rater, over a blind pool."""

    dataset: str  # the key judgements are stored under
    query_id: str
    query_text: str
    rater: str
    pool: tuple[str, ...]
    typed: bool  # a typed query (recorded with its text when first judged)
    grades: tuple[int, ...] = SCALES["graded"]  # the grades the rater may give (explorer.judging.scale)

    @property
    def key(self) -> tuple[str, str, str, tuple[str, ...]]:
        """Identifies the rater's place in this pool (a pool of another depth is another place: its own order)."""
        return self.dataset, self.query_id, self.rater, self.pool


def my_grades(target: JudgingTarget) -> dict[str, int]:
    """This rater's grades of this query, by document id."""
    return {j.doc_id: j.grade for j in cache.judgements().judgements(target.dataset, target.query_id, target.rater)}


def position(target: JudgingTarget) -> int:
    """Where the rater is in the pool: where they left off, else at the first document they have not graded."""
    positions = st.session_state.setdefault(POSITIONS, {})
    if target.key not in positions:
        graded = my_grades(target)
        positions[target.key] = next((i for i, doc in enumerate(target.pool) if doc not in graded), len(target.pool))
    return int(positions[target.key])


def move(target: JudgingTarget, to: int) -> None:
    """Puts the rater at ``to`` (kept within the pool)."""
    st.session_state.setdefault(POSITIONS, {})[target.key] = max(0, min(to, len(target.pool)))


def grade(target: JudgingTarget, doc_id: str, value: int) -> None:
    """Saves the grade at once, then moves to the next document (a button's callback)."""
    store = cache.judgements()
    try:
        if target.typed:
            store.add_query(target.dataset, target.query_text, target.query_id)
        store.put(target.dataset, Judgement(target.query_id, doc_id, target.rater, value), target.grades)
    except ExplorerError as exc:  # shown on the page; the rater's place stays where it was
        st.session_state["_judge_error"] = str(exc)
        return
    move(target, target.pool.index(doc_id) + 1)

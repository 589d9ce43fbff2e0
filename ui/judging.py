"""The Judge page's state: where a rater is in a query's pool, and saving a grade the moment it is given.

A rater pressing keys quickly presses the next one while the page still redraws for the last. What decides that
such a key is neither lost nor put on the wrong document:

- Keys do not go through the buttons: one listener sends every press with the document on the screen when it went
  down (ui.judging_keys), and a press for another document than the one the rater is at is refused and said.
  Streamlit's button shortcuts lost keys pressed while the buttons were being redrawn.
- Each document's grade buttons have keys of their own (``grade_key``): a click names the document whose buttons
  took it. A click for a document the rater has already left (its buttons were still on the screen as the page
  moved on) is not saved: it must not overwrite the grade just given. It is said, once, and counted on the page
  (``JudgingDesk.take_messages``).
- The callbacks (``grade``, ``step``) touch no ``st.*``: every ``st.session_state`` access is a point where
  Streamlit stops a run that a newer interaction has overtaken, and a stop there kept the grade but lost the move to
  the next document (the page stayed on a graded document, and the next key re-graded it). What they change lives
  in one plain object, the session's ``JudgingDesk``, which the page fetches and passes to them.
- The page takes the cursor out of the query and rater boxes once they are entered (``leave_text_boxes``): a key
  pressed in a text box goes into the box, and a rater's first grade after Enter did.

The page draws the document and its buttons in a fragment (pages/9_Judge.py), so that a click reruns only that
part.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from explorer.errors import ExplorerError
from explorer.judging.store import SCALES, Judgement, JudgementStore
from ui import cache

DESK = "_judge_desk"  # the session's JudgingDesk
OPENED = "_judge_opened"  # the (query, rater) the page last took the cursor out of the text boxes for
# No key grades while the cursor is in a text box (ui.judging_keys); the script runs when its text changes, hence
# the attribute naming what was entered
_LEAVE_TEXT_BOXES = """<script data-entered="{entered}">(() => {{
  const box = document.activeElement;
  if (box && box.closest && box.closest(".st-key-judge_query, .st-key-rater")) box.blur();
}})();</script>"""


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


@dataclass
class JudgingDesk:
    """One session's judging: its place in each pool, and what the last key presses have to say (shown once).

    Mutable on purpose: the buttons' callbacks change it in place, without going through ``st.session_state``."""

    positions: dict[tuple[str, str, str, tuple[str, ...]], int] = field(default_factory=dict)
    refused: int = 0  # key presses not saved in this session: they came for a document already left
    errors: list[str] = field(default_factory=list)
    # the grades of the clicks since the page last drew: those that came late, and those saved
    late: list[int] = field(default_factory=list)
    saved: list[int] = field(default_factory=list)
    last_key: int = 0  # the sequence number of the last key press taken (ui.judging_keys)
    late_keys: list[str] = field(default_factory=list)  # the keys since the page last drew that came late

    def take_messages(self) -> tuple[list[str], list[str]]:
        """The notes and errors of the presses since the page last drew, each said once. Each late key counts; of
        the late clicks, those of one grade count once, and none when that grade was saved for the document the
        rater is at (a click on the buttons of a document just left, still on the screen, took them too)."""
        late = [str(value) for value in sorted(set(self.late) - set(self.saved))] + self.late_keys
        self.refused += len(late)
        notes = [f"The key {value} came for a document the page had already moved on from, and was not saved. Press "
                 "it again for the document shown, or B to go back." for value in late]
        errors = list(self.errors)
        for done in (self.late, self.saved, self.late_keys, self.errors):
            done.clear()
        return notes, errors


def desk() -> JudgingDesk:
    """This session's desk (from the page's run, never from a callback)."""
    return st.session_state.setdefault(DESK, JudgingDesk())


def leave_text_boxes(slot: DeltaGenerator, query: str, rater: str) -> None:
    """Takes the cursor out of the query and rater boxes, once for each query and rater entered, so that the next
    key grades. ``slot``: an ``st.empty()`` the page draws on every run (it keeps the elements below in place)."""
    if st.session_state.get(OPENED) != (query, rater):
        st.session_state[OPENED] = (query, rater)
        entered = hashlib.blake2s(f"{query}\x1f{rater}".encode(), digest_size=6).hexdigest()  # no typed text in HTML
        slot.html(_LEAVE_TEXT_BOXES.format(entered=entered), unsafe_allow_javascript=True)


def doc_token(target: JudgingTarget, doc_id: str) -> str:
    """A short name for ``doc_id`` in this query's pool, safe in a widget key and in HTML (no document text)."""
    return hashlib.blake2s(f"{target.dataset}\x1f{target.query_id}\x1f{doc_id}".encode(), digest_size=6).hexdigest()


def grade_key(target: JudgingTarget, doc_id: str, value: int) -> str:
    """The widget key of ``value``'s button for ``doc_id``: one per document, so a late click names its own."""
    return f"judge_grade_{value}_{doc_token(target, doc_id)}"


def my_grades(target: JudgingTarget) -> dict[str, int]:
    """This rater's grades of this query, by document id."""
    return {j.doc_id: j.grade for j in cache.judgements().judgements(target.dataset, target.query_id, target.rater)}


def position(target: JudgingTarget, at_desk: JudgingDesk | None = None) -> int:
    """Where the rater is in the pool: where they left off, else at the first document they have not graded."""
    positions = (at_desk or desk()).positions
    if target.key not in positions:
        graded = my_grades(target)
        positions[target.key] = next((i for i, doc in enumerate(target.pool) if doc not in graded), len(target.pool))
    return int(positions[target.key])


def move(target: JudgingTarget, to: int, at_desk: JudgingDesk | None = None) -> None:
    """Puts the rater at ``to`` (kept within the pool)."""
    (at_desk or desk()).positions[target.key] = max(0, min(to, len(target.pool)))


def step(at_desk: JudgingDesk, target: JudgingTarget, by: int) -> None:
    """Skip (+1) or Back (-1) from where the rater is now (a button's callback): two quick presses move twice."""
    at = at_desk.positions.get(target.key, 0)
    at_desk.positions[target.key] = max(0, min(at + by, len(target.pool)))


def grade(at_desk: JudgingDesk, store: JudgementStore, target: JudgingTarget, doc_id: str, value: int) -> None:
    """Saves ``value`` as the grade of ``doc_id`` at once and moves to the next document (a button's callback); a
    press for a document other than the one the rater is at is not saved, and said (see the module docstring)."""
    index = target.pool.index(doc_id)
    if at_desk.positions.get(target.key, index) != index:
        at_desk.late.append(value)
        return
    try:
        if target.typed:
            store.add_query(target.dataset, target.query_text, target.query_id)
        store.put(target.dataset, Judgement(target.query_id, doc_id, target.rater, value), target.grades)
    except ExplorerError as exc:  # shown on the page; the rater's place stays where it was
        at_desk.errors.append(str(exc))
        return
    at_desk.saved.append(value)
    at_desk.positions[target.key] = index + 1

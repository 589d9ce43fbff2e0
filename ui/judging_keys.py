"""The Judge page's keys: each key press, with the document on the screen when it went down, reaches the page.

Streamlit's button shortcuts lost keys under load: a key pressed while the page redrew its buttons found none bound
to it (or only half of them), and a key whose rerun reached the server while a whole-page run had cleared the
fragment was dropped by Streamlit without a word. Here one listener, kept for the life of the browser tab, records
every key with the document shown at that moment (the token of its container, ``shown_key``) and sends the whole
list of presses the page has not yet taken. The list is a state value, not a trigger, so a newer message never
drops an older press: it carries it. The page takes each press once (its sequence number, ``JudgingDesk.last_key``)
and tells the listener how far it has got (``ack``), which then stops sending those presses.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from explorer.judging.store import JudgementStore
from ui.judging import JudgingDesk, JudgingTarget, doc_token, grade, position, step

KEYS = "judge_keys"  # the listener's widget key; its state "pressed" is the list of presses not yet taken
SHOWN = "judge_shown_"  # the container of the document on the screen is keyed SHOWN + its token

# Keys in a text box are the box's; the listener ignores them, and every key when no document is shown (another
# page of the app, or a pool fully graded). Each press: [sequence number, key, token of the document shown].
_LISTENER = """
export default function (component) {
  const { data, setStateValue } = component;
  const tab = window.__relevanceJudgeKeys || (window.__relevanceJudgeKeys = { seq: 0, pending: [], keys: [] });
  tab.send = setStateValue;
  tab.keys = data.keys;
  tab.pending = tab.pending.filter((press) => press[0] > data.ack);
  if (tab.listening) return;
  tab.listening = true;
  window.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    const key = event.key.length === 1 ? event.key.toUpperCase() : "";
    if (!tab.keys.includes(key)) return;
    const shown = Array.from(document.querySelectorAll('[class*="st-key-%(shown)s"]')).pop();
    if (!shown) return;
    const name = Array.from(shown.classList).find((c) => c.startsWith("st-key-%(shown)s"));
    event.preventDefault();
    tab.seq += 1;
    tab.pending.push([tab.seq, key, name.slice("st-key-%(shown)s".length)]);
    tab.send("pressed", tab.pending.slice());
  }, true);
}
""" % {"shown": SHOWN}

_listener = st.components.v2.component("relevance_explorer.judge_keys", js=_LISTENER)


def shown_key(target: JudgingTarget, doc_id: str) -> str:
    """The widget key of the container that shows ``doc_id``: it names the document a key was pressed for."""
    return SHOWN + doc_token(target, doc_id)


def take_keys(at_desk: JudgingDesk, store: JudgementStore, target: JudgingTarget,
              presses: Sequence[Sequence] | None) -> None:
    """Takes each press not yet taken, in order: a grade, S or B for the document the rater is at is done; one
    pressed while another document was on the screen is refused and said (``JudgingDesk.take_messages``)."""
    for press in presses or ():
        try:
            number, key, token = int(press[0]), str(press[1]), str(press[2])
        except (IndexError, TypeError, ValueError):
            continue  # not a press this listener sends
        if key not in ("S", "B") and not key.isdigit():
            continue
        if number <= at_desk.last_key:
            continue
        at_desk.last_key = number
        at = position(target, at_desk)
        if at >= len(target.pool) or doc_token(target, target.pool[at]) != token:
            at_desk.late_keys.append(key)
        elif key == "S":
            step(at_desk, target, 1)
        elif key == "B":
            step(at_desk, target, -1)
        else:
            grade(at_desk, store, target, target.pool[at], int(key))


def listen(at_desk: JudgingDesk, grades: Sequence[int]) -> None:
    """Draws the listener (nothing to see). Early in the page: it must listen before a document is shown, or the
    first key after the query's Enter finds no listener yet and is lost."""
    keys = [str(value) for value in grades] + ["S", "B"]
    _listener(key=KEYS, data={"ack": at_desk.last_key, "keys": keys}, on_pressed_change=_nothing, height=0)


def pressed() -> list | None:
    """The presses the listener has sent and the page may not have taken yet."""
    return (st.session_state.get(KEYS) or {}).get("pressed")


def _nothing() -> None:
    """The listener's change callback: the page takes the presses in its run (``take_keys``), not here."""

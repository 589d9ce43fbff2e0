"""The time a long run has left: estimated from its pace, said in seconds, minutes or hours, never guessed early."""

from __future__ import annotations

from explorer.time_left import Pace, said, seconds_left


def test_the_time_left_is_the_pace_so_far_times_what_remains():
    assert seconds_left(50, 200, 30.0) == 90.0  # 0.6 s a query, 150 to go
    assert seconds_left(200, 200, 30.0) == 0.0
    assert seconds_left(0, 0, 0.0) == 0.0


def test_no_estimate_before_enough_is_done_to_tell():
    assert seconds_left(0, 200, 10.0) is None
    assert seconds_left(5, 200, 10.0) is None  # 2.5 % done: the start-up would dominate the pace
    assert seconds_left(20, 200, 1.0) is None  # one second in


def test_the_time_left_is_said_in_round_figures():
    assert [said(s) for s in (None, 3, 42, 61, 150, 3599, 4800)] == [
        "estimating the time left", "about 5 s left", "about 40 s left", "about 1 min left", "about 2 min left",
        "about 1 h left", "about 1 h 20 min left"]


def test_a_pace_reports_where_the_run_is():
    pace = Pace("queries", started=0.0)
    assert pace.status(0, 225).startswith("0 of 225 queries, estimating")

"""Rank changes, move labels and the result tables, checked by hand."""

import pytest

from explorer.models.info import ModelInfo
from explorer.pipeline import PipelineResult, RerankedHit, StageTimings
from explorer.records import Dataset, Document, Hit
from explorer.rerank.rank_shift import describe_move, rank_change
from explorer.rerank.scoring import order_by_score
from explorer.views.result_tables import result_tables, snippet


@pytest.mark.parametrize(
    ("first", "new", "top_n", "expected"),
    [(5, 2, 10, "up 3"), (2, 4, 10, "down 2"), (3, 3, 10, "same"), (14, 3, 10, "new in top 10"),
     (11, 10, 10, "new in top 10"), (12, 11, 10, "up 1"), (1, 15, 10, "down 14")],
)
def test_describe_move(first, new, top_n, expected):
    assert describe_move(first, new, top_n) == expected


def test_rank_change_sign():
    assert rank_change(7, 1) == 6
    assert rank_change(1, 7) == -6


def test_order_by_score_is_descending_and_stable_on_ties():
    assert order_by_score([0.1, 0.9, 0.5, 0.9]) == [1, 3, 2, 0]
    assert order_by_score([float("nan"), 1.0]) == [1, 0]
    assert order_by_score([]) == []


def make_result():
    # first stage order a, b, c, d; the reranker prefers d, b, a, c
    first = tuple(Hit(i + 1, d, s) for i, (d, s) in enumerate([("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.6)]))
    reranked = (
        RerankedHit(1, "d", 4.0, 0.98, 4, 0.6), RerankedHit(2, "b", 1.0, 0.73, 2, 0.8),
        RerankedHit(3, "a", -1.0, 0.27, 1, 0.9), RerankedHit(4, "c", -3.0, 0.05, 3, 0.7),
    )
    info = ModelInfo("m", "m", "hub", "", has_probability=True)
    return PipelineResult("q", 4, first, reranked, StageTimings(1, 2, 3, 6), info, info)


def dataset():
    docs = tuple(Document(d, f"Title {d}", f"Text of {d}") for d in "abcd")
    return Dataset("tiny", docs, {})


def test_result_tables_moves_labels_and_threshold():
    tables = result_tables(make_result(), dataset(), labels={"d": 3, "a": 0}, top_n=3, threshold=0.5)
    assert list(tables.first_stage["doc_id"]) == ["a", "b", "c"]
    assert list(tables.reranked["doc_id"]) == ["d", "b"]
    assert list(tables.reranked["move"]) == ["new in top 3", "same"]
    assert list(tables.cut_off["doc_id"]) == ["a"]
    assert list(tables.cut_off["move"]) == ["down 2"]
    assert tables.reranked["label"].tolist()[0] == 3
    assert tables.threshold_column == "probability"


def test_result_tables_without_threshold_keep_all_rows():
    tables = result_tables(make_result(), dataset(), labels=None, top_n=10)
    assert len(tables.reranked) == 4 and tables.cut_off is None
    assert tables.reranked["label"].isna().all()


def test_snippet_cuts_on_a_word():
    assert snippet("short text") == "short text"
    long = "word " * 100
    cut = snippet(long, 23)
    assert cut.endswith(" …") and len(cut) <= 25 and "wor …" not in cut

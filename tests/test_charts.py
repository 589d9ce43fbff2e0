"""Figures carry the data they claim and never pass document text to Plotly as HTML."""

from explorer.models.info import ModelInfo
from explorer.pipeline import PipelineResult, RerankedHit, StageTimings
from explorer.grades import GradeScale
from explorer.records import Dataset, Document, Hit, Query
from explorer.views.search_charts import (
    BEST_COLOUR,
    NOT_RELEVANT_COLOUR,
    UNJUDGED_COLOUR,
    grade_colour,
    grade_name,
    latency_figure,
    rank_shift_figure,
    score_distribution_figure,
)


def result_and_data():
    docs = (Document("a", "<b>bold</b> & <script>x</script>", "t"), Document("b", "Plain", "t"),
            Document("c", "Third", "t"))
    first = (Hit(1, "a", 0.9), Hit(2, "b", 0.8), Hit(3, "c", 0.5))
    reranked = (RerankedHit(1, "c", 3.0, None, 3, 0.5), RerankedHit(2, "a", 2.0, None, 1, 0.9),
                RerankedHit(3, "b", 1.0, None, 2, 0.8))
    info = ModelInfo("m", "m", "packaged", "")
    return PipelineResult("q", 3, first, reranked, StageTimings(10, 1, 90, 101), info, info), Dataset("d", docs, {})


def test_rank_shift_lines_and_escaping():
    result, data = result_and_data()
    figure = rank_shift_figure(result, data, labels={"c": 3, "a": 0}, top_n=2)
    lines = {tuple(trace.y) for trace in figure.data}
    assert lines == {(3, 1), (1, 2), (2, 3)}
    hover = " ".join(trace.hovertemplate for trace in figure.data)
    assert "<b>bold" not in hover and "&lt;b&gt;bold&lt;/b&gt;" in hover and "<script>" not in hover
    names = {trace.name for trace in figure.data if trace.showlegend}
    assert names == {"label 3 (best)", "label 0 (not relevant)", "unjudged"}


def graded_one_to_four(data: Dataset) -> Dataset:
    """``data`` with Cranfield's scale: grades 1-4, 4 the best, no grade for "not relevant"."""
    return Dataset(data.name, data.documents, {"q": Query("q", "q")},
                   {"test": {"q": {"a": 1, "b": 2, "c": 4}}, "train": {"q2": {"a": 3}}})


def test_rank_shift_colours_and_legend_follow_a_one_to_four_scale():
    result, data = result_and_data()
    data = graded_one_to_four(data)
    assert data.grade_scale == GradeScale(1, 4, 1, from_labels=True)
    figure = rank_shift_figure(result, data, labels={"c": 4, "a": 1, "b": 2}, top_n=3)
    by_doc = {trace.y[1]: trace for trace in figure.data}  # reranked rank -> line: c 1, a 2, b 3
    # grade 4 is the best, in dark green (not the grey of an unjudged document), first in the legend
    assert (by_doc[1].name, by_doc[1].line.color) == ("label 4 (best)", BEST_COLOUR)
    assert by_doc[1].legendrank < by_doc[3].legendrank < by_doc[2].legendrank
    # grade 1 is relevant on this scale: the ramp's lowest colour, not the red of "not relevant"
    assert (by_doc[2].name, by_doc[2].line.color) == ("label 1", "rgb(212, 167, 44)")
    assert by_doc[3].name == "label 2" and by_doc[3].line.color not in {UNJUDGED_COLOUR, NOT_RELEVANT_COLOUR}
    assert "unjudged" not in {trace.name for trace in figure.data}


def test_grade_colours_and_names_on_scales_with_and_without_a_not_relevant_grade():
    zero_to_three, one_to_four = GradeScale(0, 3, 1, True), GradeScale(1, 4, 1, True)
    assert [grade_name(g, zero_to_three) for g in (3, 2, 0, None)] == [
        "label 3 (best)", "label 2", "label 0 (not relevant)", "unjudged"]
    assert grade_colour(3, zero_to_three) == grade_colour(4, one_to_four) == BEST_COLOUR
    assert grade_colour(0, one_to_four) == NOT_RELEVANT_COLOUR and grade_colour(None, one_to_four) == UNJUDGED_COLOUR
    assert grade_colour(5, one_to_four) == BEST_COLOUR  # above the scale: drawn as the best, never as unjudged
    assert grade_colour(1, GradeScale(0, 3, 2, True)) == NOT_RELEVANT_COLOUR  # under a raised relevant-from grade


def test_score_distributions_split_by_label():
    result, _ = result_and_data()
    figure = score_distribution_figure(result, labels={"c": 3})
    relevant = [list(t.x) for t in figure.data if t.name == "relevant"]
    assert relevant == [[0.5], [3.0]]
    unlabelled = score_distribution_figure(result, labels=None)
    assert [len(t.x) for t in unlabelled.data] == [3, 3]


def test_latency_bars():
    result, _ = result_and_data()
    figure = latency_figure(result.timings)
    assert list(figure.data[0].x) == [10, 1, 90]
    assert "101 ms" in figure.layout.title.text


def test_chart_labels_escape_markup_but_not_quotes():
    """Plotly decodes &lt; &gt; &amp; but shows &quot; literally: quotes stay as written."""
    from explorer.views.plotly_text import plotly_text

    assert plotly_text('the "vpn" <b>client</b> & co') == 'the "vpn" &lt;b&gt;client&lt;/b&gt; &amp; co'

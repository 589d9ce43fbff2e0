"""Figures carry the data they claim and never pass document text to Plotly as HTML."""

from explorer.models.info import ModelInfo
from explorer.pipeline import PipelineResult, RerankedHit, StageTimings
from explorer.records import Dataset, Document, Hit
from explorer.views.search_charts import latency_figure, rank_shift_figure, score_distribution_figure


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
    assert names == {"label 3 (answers)", "label 0 (not relevant)", "unjudged"}


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

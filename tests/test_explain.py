"""Explanations of a reranker's score: pieces of text, occlusion, integrated gradients and deletion curves, on
hand-built examples and on the sample data with the real packaged models."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ConfigError
from explorer.explain.deletion import DeletionCurve, deletion_curves, ranking
from explorer.explain.faithfulness import (
    SECOND_SHUFFLE,
    PairFaithfulness,
    engine_scorer,
    explain_pair,
    summarize,
)
from explorer.explain.occlusion import occlude, query_term_effects
from explorer.explain.spans import Span, runs_of, sentence_spans, without, word_spans


def counting_scorer(word: str):
    """A scorer by hand: the number of times ``word`` appears in the text."""
    def score(query, texts):
        return np.array([text.split().count(word) for text in texts], dtype=float)
    return score


def test_sentences_words_runs_and_text_without_them():
    text = "First one. Second one!  Third?\n\n- a list item"
    assert [s.text for s in sentence_spans(text)] == ["First one.", "Second one!", "Third?", "- a list item"]
    for span in sentence_spans(text):
        assert text[span.start:span.end] == span.text
    words = word_spans("a bb  ccc")
    assert [(w.start, w.end, w.text) for w in words] == [(0, 1, "a"), (2, 4, "bb"), (6, 9, "ccc")]
    assert [r.text for r in runs_of(words, 2, "a bb  ccc")] == ["a bb", "ccc"]
    assert without("a bb  ccc", [words[1]]) == "a ccc"
    assert without("a bb  ccc", words) == ""
    with pytest.raises(ConfigError, match="overlap"):
        without("a bb", [Span(0, 3, "a b"), Span(2, 4, "bb")])


def test_occlusion_and_query_terms_by_hand():
    text = "good bad good"
    result = occlude(counting_scorer("good"), "q", text, word_spans(text))
    assert result.score == 2 and [e.drop for e in result.effects] == [1, 0, 1] and result.calls == 4
    assert [e.span.text for e in result.ranked()] == ["good", "good", "bad"]
    with pytest.raises(ConfigError, match="more than"):
        occlude(counting_scorer("good"), "q", text, word_spans(text), max_calls=3)

    def query_scorer(query, texts):  # the score is the number of query words
        return np.array([len(query.split())] * len(texts), dtype=float)
    terms = query_term_effects(query_scorer, "reset vpn password", "text")
    assert [(e.span.text, e.drop) for e in terms.effects] == [("reset", 1), ("vpn", 1), ("password", 1)]


def test_deletion_curves_by_hand():
    # two "good" among four words: the right order removes them first (score 2, 1, 0 ...), the wrong one last
    text = "good x good y"
    words = word_spans(text)
    curves = deletion_curves(counting_scorer("good"), "q", text, words,
                             {"right": [0, 2, 1, 3], "wrong": [1, 3, 0, 2]}, fractions=(0.0, 0.25, 0.5, 0.75, 1.0))
    assert curves["right"].scores == (2, 1, 0, 0, 0) and curves["wrong"].scores == (2, 2, 2, 1, 0)
    # normalised 1, .5, 0, 0, 0: area .25 * (.75 + .25) = 0.25; 1, 1, 1, .5, 0: .25 * (1 + 1 + .75 + .25) = 0.75
    assert curves["right"].auc == pytest.approx(0.25) and curves["wrong"].auc == pytest.approx(0.75)
    assert deletion_curves(counting_scorer("none"), "q", text, words, {"right": [0, 1, 2, 3]}) is None  # flat
    with pytest.raises(ConfigError, match="each of the 4 words once"):
        deletion_curves(counting_scorer("good"), "q", text, words, {"bad": [0, 0, 1, 2]})
    assert ranking([0.1, 0.5, 0.5, -1]) == [1, 2, 0, 3]


def test_the_summary_counts_wins_over_the_random_order():
    def curve(method, auc):
        return DeletionCurve(method, (0.0, 1.0), (1.0, 0.0), (2 * auc - 0.0, 0.0))  # area = auc
    pairs = [PairFaithfulness("q1", "d", 4, {"random": curve("random", 0.5), "attention": curve("attention", 0.4),
                                             SECOND_SHUFFLE: curve(SECOND_SHUFFLE, 0.6)}, None),
             PairFaithfulness("q2", "d", 4, {"random": curve("random", 0.5), "attention": curve("attention", 0.7),
                                             SECOND_SHUFFLE: curve(SECOND_SHUFFLE, 0.3)}, None),
             PairFaithfulness("q3", "d", 4, None, None)]
    summary = summarize(pairs)
    assert summary.queries == 2 and summary.flat == 1
    assert summary.methods["attention"].deletion_auc == pytest.approx(0.55)
    assert summary.methods["attention"].beats_random == 0.5 and summary.methods["random"].beats_random == 0.5
    assert set(summary.to_json()["methods"]) == {"random", "attention"}
    assert pairs[0].follows() == "attention" and pairs[2].follows() is None


@pytest.fixture(scope="module")
def gradients(reranker):
    from explorer.explain.gradients import GradientExplainer

    return GradientExplainer(reranker)


def test_integrated_gradients_add_up_to_the_score_difference(reranker, sample, gradients):
    # completeness: the attributions add up to score(pair) - score(blank document) within TOLERANCE of it
    from explorer.explain.gradients import TOLERANCE

    queries = sample.labelled_queries("test")[:3]
    for query in queries:
        labels = sample.qrels_by_split["test"][query.query_id]
        document = sample.document(max(labels, key=labels.get)).full_text
        result = gradients.attribute(query.text, document, steps=32)
        difference = result.score - result.baseline_score
        assert abs(result.completeness_gap) <= TOLERANCE * abs(difference), (result.completeness_gap, difference)
        assert result.complete and result.words
        assert all(document[w.start:w.end] == w.word for w in result.words)


ANSWER_SHARE = 0.7  # occluding the answer sentence lowers the score more than a random filler one on 70% of queries


def test_occluding_the_answer_sentence_lowers_the_score_more_than_a_random_one(reranker, sample):
    # Each labelled test query gets a document made of four sentences of a document nobody labelled for it, with the
    # query's best-labelled document's first sentence in the middle: the answer. Occlusion of that sentence should
    # lower the score more than occluding one of the four others (picked at random) on most queries.
    rng = np.random.default_rng(0)
    scorer = engine_scorer(reranker)
    labelled = {doc for labels in sample.qrels_by_split["test"].values() for doc in labels}
    filler_docs = [d for d in sample.documents if d.doc_id not in labelled and len(sentence_spans(d.text)) >= 4]
    queries = sample.labelled_queries("test")
    more = 0
    for number, query in enumerate(queries):
        labels = sample.qrels_by_split["test"][query.query_id]
        best = sample.document(max(labels, key=lambda d: (labels[d], d)))
        answer = sentence_spans(best.full_text)[0].text
        filler = [s.text for s in sentence_spans(filler_docs[number % len(filler_docs)].text)[:4]]
        sentences = filler[:2] + [answer] + filler[2:]
        text = " ".join(sentences)
        result = occlude(scorer, query.text, text, sentence_spans(text))
        drops = [e.drop for e in result.effects]
        assert len(drops) >= 5, [e.span.text for e in result.effects]
        answer_at = next(i for i, e in enumerate(result.effects) if e.span.text == answer.strip())
        others = [i for i in range(len(drops)) if i != answer_at]
        more += drops[answer_at] > drops[int(rng.choice(others))]
    assert more / len(queries) >= ANSWER_SHARE, f"{more} of {len(queries)}"


def test_one_pair_explained_by_every_method(reranker, sample, gradients):
    query = sample.labelled_queries("test")[0]
    labels = sample.qrels_by_split["test"][query.query_id]
    document = sample.document(max(labels, key=labels.get)).full_text
    result = explain_pair(reranker, engine_scorer(reranker), query.text, document, gradients=gradients, ig_steps=16)
    assert result.curves is not None
    assert set(result.curves) == {"random", "attention", "rollout", "integrated_gradients", "occlusion",
                                  SECOND_SHUFFLE}
    for curve in result.curves.values():
        assert curve.curve[0] == pytest.approx(1.0) and curve.curve[-1] == pytest.approx(0.0)
    assert result.follows() in result.curves


def test_marked_text_is_escaped_and_coloured_by_sign():
    from explorer.explain.highlight import marked_text_html

    text = 'Reset <script>alert("x")</script> & <b>tokens</b>'
    words = word_spans(text)
    page = marked_text_html(text, [(words[0], 2.0), (words[-1], -1.0)])
    assert "<script>alert" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "&lt;b&gt;tokens&lt;/b&gt;" in page
    assert page.count("<mark") == 2 and "rgba(26, 127, 55,0.80)" in page and "rgba(207, 34, 46,0.44)" in page


def test_why_a_above_b_by_hand():
    from explorer.explain.pairwise import pair_gap

    # the score counts "vpn": A has three (one per sentence), B one. A without two of its sentences scores 1, equal
    # to B and not below it; without all three, 0 < 1
    text_a = "vpn one. vpn two. vpn three."
    text_b = "vpn once. nothing else."
    gap = pair_gap(counting_scorer("vpn"), "q", text_a, text_b)
    assert (gap.score_a, gap.score_b, gap.gap) == (3, 1, 2)
    assert [e.drop for e in gap.a.effects] == [1, 1, 1] and [e.drop for e in gap.b.effects] == [1, 0]
    found = gap.counterfactual
    assert found.unit == "sentence" and len(found.removed) == 3 and found.score == 0 and found.tried == 3
    with pytest.raises(ConfigError, match="not above B"):
        pair_gap(counting_scorer("vpn"), "q", text_b, text_a)


def test_the_first_stage_scorer_is_the_dense_stage_cosine(bi_encoder, sample):
    from explorer.explain.first_stage import bi_encoder_scorer
    from explorer.retrieval.embedding import encode_query, encode_texts

    document = sample.documents[0].full_text
    cosine = bi_encoder_scorer(bi_encoder)("reset my vpn", [document])[0]
    expected = float(encode_texts(bi_encoder, [bi_encoder.info.document_prefix + document])[0]
                     @ encode_query(bi_encoder, "reset my vpn")[0])
    assert cosine == pytest.approx(expected, abs=1e-6) and -1 <= cosine <= 1

"""Attention on one (query, document) pair: hand-made records checked by hand, then the real packaged model."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import numpy as np
import pytest

from explorer.attention.bertviz_views import (
    drawn_document_tokens,
    head_view_html,
    model_view_html,
    offline_html,
    script_library,
)
from explorer.attention.charts import attention_heatmap_figure
from explorer.attention.highlight import highlighted_document_html
from explorer.attention.model_pass import PairAttention, read_attention
from explorer.attention.rollout import ROLLOUT, attention_rollout, most_attended_window, query_to_document
from explorer.attention.words import merge_wordpieces, top_document_words, window
from explorer.errors import AttentionUnavailableError, ConfigError

QUERY = "vpn drops"
DOCUMENT = "VPN tokens expire"
# positions 0-10: [CLS] and the query's three wordpieces, [SEP] at 4, the document's five wordpieces, [SEP]
TOKENS = ("[CLS]", "vp", "##n", "drops", "[SEP]", "vp", "##n", "tokens", "ex", "##pire", "[SEP]")
WORD_IDS = (None, 0, 0, 1, None, 0, 0, 1, 2, 2, None)
OFFSETS = ((0, 0), (0, 2), (2, 3), (4, 9), (0, 0), (0, 2), (2, 3), (4, 10), (11, 13), (13, 17), (0, 0))


def hand_made(attentions: np.ndarray) -> PairAttention:
    return PairAttention(
        query=QUERY, document=DOCUMENT, tokens=TOKENS, sentence_b_start=5, query_positions=(1, 2, 3),
        document_positions=(5, 6, 7, 8, 9), word_ids=WORD_IDS, offsets=OFFSETS, attentions=attentions,
        document_tokens_total=5, document_tokens_read=5, max_length=512,
    )


def uniform_with(rows: dict[tuple[int, int], list[float]], layers: int = 2, heads: int = 2) -> np.ndarray:
    """Every row uniform over the 11 tokens, except the (layer, head) rows given: {(layer, head): row for token 1}."""
    size = len(TOKENS)
    attentions = np.full((layers, heads, size, size), 1.0 / size)
    for (layer, head), row in rows.items():
        attentions[layer, head, 1] = row
    return attentions


# token 1 ("vp" in the query) looks at document tokens 5..9 with these weights in layer 1, head 0
FOCUSED = [0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.2, 0.15, 0.25, 0.0]


def test_merge_wordpieces_sums_pieces_of_a_word_by_hand():
    words = merge_wordpieces(DOCUMENT, (5, 6, 7, 8, 9), WORD_IDS, OFFSETS, [0.1, 0.3, 0.2, 0.15, 0.25])
    assert [w.word for w in words] == ["VPN", "tokens", "expire"]
    assert [round(w.weight, 6) for w in words] == [0.4, 0.2, 0.4]  # 0.1 + 0.3, 0.2, 0.15 + 0.25
    assert [(w.start, w.end) for w in words] == [(0, 3), (4, 10), (11, 17)]
    assert words[0].positions == (5, 6) and words[2].positions == (8, 9)


def test_merge_wordpieces_wants_one_weight_per_piece():
    with pytest.raises(ConfigError, match="5 wordpieces but 2 weights"):
        merge_wordpieces(DOCUMENT, (5, 6, 7, 8, 9), WORD_IDS, OFFSETS, [0.1, 0.2])


def test_query_to_document_shape_and_split():
    record = hand_made(uniform_with({(1, 0): FOCUSED}))
    block = query_to_document(record, layer=1, head=0)
    assert block.weights.shape == (3, 5)  # query wordpieces x document wordpieces, no special tokens
    assert block.query_tokens == ("vp", "##n", "drops")
    assert block.document_tokens == ("vp", "##n", "tokens", "ex", "##pire")
    np.testing.assert_allclose(block.weights[0], [0.1, 0.3, 0.2, 0.15, 0.25])
    np.testing.assert_allclose(block.weights[1:], 1 / 11)
    # heads averaged: head 0's focused row and head 1's uniform one
    np.testing.assert_allclose(query_to_document(record, layer=1).weights[0],
                               (np.array([0.1, 0.3, 0.2, 0.15, 0.25]) + 1 / 11) / 2)


def test_top_words_merge_wordpieces_and_rank_by_hand():
    record = hand_made(uniform_with({(1, 0): FOCUSED}))
    words = top_document_words(record, count=2, layer=1, head=0)
    # per piece: mean over the 3 query rows = (focused + 2/11) / 3; per word: sum of its pieces
    piece = (np.array([0.1, 0.3, 0.2, 0.15, 0.25]) + 2 / 11) / 3
    assert [w.word for w in words] == ["VPN", "expire"]  # equal weight: earlier first
    assert words[0].weight == pytest.approx(piece[0] + piece[1])
    assert words[1].weight == pytest.approx(piece[3] + piece[4])


@pytest.mark.parametrize("layer, head, message", [
    (2, None, "layers 0 to 1"), (-1, None, "layers 0 to 1"), (0, 2, "heads 0 to 1"), (ROLLOUT, 0, "pick a layer"),
])
def test_bad_layer_or_head_says_what_exists(layer, head, message):
    with pytest.raises(ConfigError, match=message):
        query_to_document(hand_made(uniform_with({})), layer=layer, head=head)


def test_rollout_by_hand():
    one_layer = np.array([[[[1.0, 0.0], [0.5, 0.5]]]])  # 1 layer, 1 head, 2 tokens
    # 0.5 A + 0.5 I = [[1, 0], [0.25, 0.75]]; rows already sum to 1
    np.testing.assert_allclose(attention_rollout(one_layer), [[1.0, 0.0], [0.25, 0.75]])
    two_layers = np.concatenate([one_layer, one_layer])
    # the same matrix twice: [[1, 0], [0.25 + 0.75 * 0.25, 0.75 * 0.75]]
    np.testing.assert_allclose(attention_rollout(two_layers), [[1.0, 0.0], [0.4375, 0.5625]])
    np.testing.assert_allclose(attention_rollout(two_layers, rows=[1]), [[0.4375, 0.5625]])


def test_rollout_rows_match_the_full_product():
    rng = np.random.default_rng(3)
    weights = rng.random((4, 3, 9, 9))
    weights /= weights.sum(axis=-1, keepdims=True)
    full = attention_rollout(weights)
    np.testing.assert_allclose(full.sum(axis=1), 1.0)
    np.testing.assert_allclose(attention_rollout(weights, rows=[2, 5]), full[[2, 5]])


def test_most_attended_window_by_hand():
    assert most_attended_window([0.1, 0.5, 0.4, 0.0, 0.3], 2) == (1, 3)
    assert most_attended_window([0.1, 0.5, 0.4, 0.0, 0.3], 9) == (0, 5)
    assert most_attended_window([0.2, 0.2, 0.2], 1) == (0, 1)  # ties: the earliest
    with pytest.raises(ConfigError, match="at least one token"):
        most_attended_window([0.1], 0)


def test_window_keeps_query_and_specials_and_cuts_the_document():
    record = hand_made(uniform_with({(l, h): FOCUSED for l in range(2) for h in range(2)}))
    cut = window(record, max_document_tokens=2)
    # neighbouring pairs draw 0.1 + 0.3, 0.3 + 0.2, 0.2 + 0.15, 0.15 + 0.25 from "vp": the second pair wins
    assert cut.tokens == ("[CLS]", "vp", "##n", "drops", "[SEP]", "##n", "tokens", "[SEP]")
    assert cut.sentence_b_start == 5 and cut.document_positions == (5, 6) and cut.document_window == (1, 3)
    assert cut.attentions.shape == (2, 2, 8, 8)
    assert cut.attentions[1, 0, 1, 5] == pytest.approx(0.3)  # "vp" -> document "##n" kept its weight
    assert cut.offsets[5] == (2, 3) and cut.word_ids[6] == 1
    assert any("Drawn: document tokens 2-3 of the 5 read" in note for note in cut.notes)
    assert window(record, max_document_tokens=5) is record  # nothing to cut
    with pytest.raises(ConfigError, match="already a window"):
        window(cut, 1)
    with pytest.raises(ConfigError, match="needs every token read"):
        query_to_document(cut, ROLLOUT)


def test_highlight_escapes_document_text():
    document = 'Reset <script>alert("x")</script> & <b>tokens</b>'
    record = PairAttention(
        query="q", document=document, tokens=("[CLS]", "q", "[SEP]", "reset", "tokens", "[SEP]"), sentence_b_start=3,
        query_positions=(1,), document_positions=(3, 4), word_ids=(None, 0, None, 0, 1, None),
        offsets=((0, 0), (0, 1), (0, 0), (0, 5), (39, 45), (0, 0)), attentions=np.full((1, 1, 6, 6), 1 / 6),
        document_tokens_total=2, document_tokens_read=2, max_length=512,
    )
    words = top_document_words(record, count=2, layer=0)
    page = highlighted_document_html(record, words)
    assert "<script>alert" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "&amp;" in page
    assert page.count("<mark") == 2 and ">Reset<span" in page and ">tokens<span" in page


def test_heatmap_keeps_repeated_tokens_apart_and_escapes_them():
    tokens = ("[CLS]", "a", "[SEP]", "<b>", "x", "<b>", "[SEP]")
    record = PairAttention(
        query="a", document="<b> x <b>", tokens=tokens, sentence_b_start=3, query_positions=(1,),
        document_positions=(3, 4, 5), word_ids=(None, 0, None, 0, 1, 2, None),
        offsets=((0, 0), (0, 1), (0, 0), (0, 3), (4, 5), (6, 9), (0, 0)), attentions=np.full((1, 2, 7, 7), 1 / 7),
        document_tokens_total=3, document_tokens_read=3, max_length=512,
    )
    figure = attention_heatmap_figure(query_to_document(record, 0))
    heatmap = figure.data[0]
    assert np.asarray(heatmap.z).shape == (1, 3)
    assert list(figure.layout.xaxis.ticktext) == ["&lt;b&gt;", "x", "&lt;b&gt;"]
    assert list(heatmap.x) == [0, 1, 2]


def test_offline_html_refuses_an_unexpected_page():
    with pytest.raises(AttentionUnavailableError, match="changed shape"):
        offline_html("<div>no loader here</div><script type=\"text/javascript\">var x = 1;</script>")


def test_script_library_is_d3_5_and_jquery_from_packages():
    library = script_library()
    assert "d3js.org v5.7.0" in library and "jQuery v3" in library
    assert not re.search(r"<script[^>]*\ssrc=", library)


# --- the real packaged model -------------------------------------------------------------------------------

PAIR_QUERY = "my vpn drops every few minutes"


@pytest.fixture(scope="module")
def document(sample):
    return sample.documents[0].full_text


@pytest.fixture(scope="module")
def record(reranker, document):
    return read_attention(reranker, PAIR_QUERY, document)


def test_shapes_of_a_real_pair(record, reranker):
    network = reranker.model[0].model
    tokens = len(record.tokens)
    assert record.attentions.shape == (network.config.num_hidden_layers, network.config.num_attention_heads,
                                       tokens, tokens)
    # each row is a distribution (in bf16, where EXPLORER_ENGINE forces it, to bf16's rounding)
    np.testing.assert_allclose(record.attentions.sum(axis=-1), 1.0, atol=1e-4 if reranker.device.precision == "fp32"
                               else 5e-3)
    assert not record.attentions.flags.writeable


def test_query_document_split_of_a_real_pair(record, reranker, document):
    tokenizer = reranker.model.tokenizer
    query_pieces = tokenizer.tokenize(PAIR_QUERY)
    assert [record.tokens[i] for i in record.query_positions] == query_pieces
    assert record.tokens[0] == "[CLS]" and record.tokens[record.sentence_b_start - 1] == "[SEP]"
    assert record.query_positions == tuple(range(1, 1 + len(query_pieces)))
    assert record.document_positions == tuple(range(record.sentence_b_start, len(record.tokens) - 1))
    # the same tokens the reranker scores: sentence-transformers' own preprocessing of the pair
    features = reranker.model.preprocess([(PAIR_QUERY, document)])
    assert features["input_ids"][0].tolist() == tokenizer.convert_tokens_to_ids(list(record.tokens))
    assert features["token_type_ids"][0].tolist().index(1) == record.sentence_b_start


def test_real_words_merge_back_from_wordpieces(reranker):
    record = read_attention(reranker, "vpn", "The VPN gateway rejects expired certificates.")
    assert [record.tokens[i] for i in record.document_positions][:3] == ["the", "vp", "##n"]
    words = top_document_words(record, count=20)
    by_word = {w.word: w for w in words}
    assert set(by_word) == {"The", "VPN", "gateway", "rejects", "expired", "certificates"}
    vpn = by_word["VPN"]
    assert len(vpn.positions) == 2 and record.document[vpn.start:vpn.end] == "VPN"
    assert all(a.weight >= b.weight for a, b in itertools.pairwise(words))


def test_the_shared_model_is_not_changed(reranker, document):
    network = reranker.model[0].model
    before_impl = network.config._attn_implementation
    before = reranker.model.predict([(PAIR_QUERY, document)])
    read_attention(reranker, PAIR_QUERY, document)
    assert network.config._attn_implementation == before_impl
    np.testing.assert_allclose(reranker.model.predict([(PAIR_QUERY, document)]), before, rtol=1e-5)


def test_empty_input_and_too_many_tokens_say_what_to_do(reranker):
    with pytest.raises(ConfigError, match="query is empty"):
        read_attention(reranker, "  ", "text")
    with pytest.raises(ConfigError, match="no text"):
        read_attention(reranker, "query", "")
    with pytest.raises(ConfigError, match="between 8 and 512 tokens"):
        read_attention(reranker, "query", "text", max_length=4096)


def test_a_model_that_is_not_a_cross_encoder_gets_a_clear_message(bi_encoder):
    with pytest.raises(AttentionUnavailableError, match="not a sentence-transformers CrossEncoder.*choose one"):
        read_attention(bi_encoder, "query", "text")


def long_document(reranker, tokens: int) -> str:
    sentence = "The VPN client reconnects after the token expires, and the portal resets the session. "
    text = sentence * (tokens // 10)
    assert len(reranker.model.tokenizer.tokenize(text)) > tokens
    return text


def test_a_long_pair_is_truncated_and_said_so(reranker):
    record = read_attention(reranker, PAIR_QUERY, long_document(reranker, 600), max_length=512)
    assert len(record.tokens) == 512 and record.truncated
    assert record.document_tokens_total > record.document_tokens_read
    # 512 less [CLS], two [SEP] and the query's wordpieces
    assert record.document_tokens_read == 512 - 3 - len(reranker.model.tokenizer.tokenize(PAIR_QUERY))
    assert f"read {record.document_tokens_read} of the document's {record.document_tokens_total}" in record.notes[0]
    drawn = window(record, drawn_document_tokens(record, "head"))
    assert len(drawn.document_positions) == drawn_document_tokens(record, "head") < 512
    assert drawn.notes[-1].startswith("Drawn: document tokens")


def test_bertviz_pages_carry_their_scripts_and_fetch_nothing(record):
    for make, kind in ((head_view_html, "head"), (model_view_html, "model")):
        page = make(window(record, drawn_document_tokens(record, kind)))
        assert "d3js.org v5.7.0" in page and "window.requirejs" in page
        assert "cdnjs" not in page and not re.search(r"<(script|link|img)[^>]*\s(src|href)=", page)
        assert page.count("const params = {") == 1 and "HACK: {" not in page  # the weights are sent once


def test_a_script_closing_token_cannot_escape_the_bertviz_script(record):
    tokens = list(record.tokens)
    tokens[record.document_positions[0]] = "</script><script>alert(1)</script>"
    page = head_view_html(window(replace(record, tokens=tuple(tokens)), 16))
    assert "</script><script>alert(1)" not in page
    assert "<\\/script><script>alert(1)<\\/script>" in page


@pytest.mark.slow
def test_a_512_token_pair_renders_every_view(reranker):
    """A pair as long as the model reads: every view is built from it (the time is measured by a benchmark,
    not asserted here: CI machines differ)."""
    text = long_document(reranker, 600)
    record = read_attention(reranker, PAIR_QUERY, text, max_length=512)
    assert len(record.tokens) == 512
    heatmap = attention_heatmap_figure(query_to_document(record, ROLLOUT, max_document_tokens=100))
    assert len(heatmap.data[0].x) == 100
    assert "<mark" in highlighted_document_html(record, top_document_words(record, 10))
    assert "d3" in head_view_html(window(record, drawn_document_tokens(record, "head")))
    assert "d3" in model_view_html(window(record, drawn_document_tokens(record, "model")))

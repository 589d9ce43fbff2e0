"""Read less per pair: the reranker reads a long document's best window for the query (explorer.rerank.windows)."""

import math

import pytest

from explorer.errors import ConfigError
from explorer.evaluation.runner import EvalConfig, evaluation_key
from explorer.pipeline import RetrievalPipeline
from explorer.records import Dataset, Document, Query
from explorer.rerank.score_cache import ScoreCache
from explorer.rerank.windows import BestWindows, DocumentFrequencies, WindowOptions, window_weight, words

FILLER = " ".join(f"filler{i}" for i in range(200))
ANSWER = "the vpn client reconnects after sleep when the resume option is on"


@pytest.fixture(scope="module")
def tokenizer(bi_encoder):
    return bi_encoder.model.tokenizer


def token_count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_idf_and_window_weight_by_hand():
    frequencies = DocumentFrequencies(["vpn drops", "vpn again", "printer jam", "printer queue"])
    # Lucene's idf: log(1 + (N - n + 0.5) / (n + 0.5)); "vpn" is in 2 of 4 texts, "sleep" in none
    assert frequencies.idf("vpn") == pytest.approx(math.log(1 + 2.5 / 2.5))
    assert frequencies.idf("sleep") == pytest.approx(math.log(1 + 4.5 / 0.5))
    weights = {"vpn": 1.0, "sleep": 2.0}
    # "vpn" twice: 1.0 * 2 * 2.2 / 3.2; "sleep" once: 2.0 * 1 * 2.2 / 2.2; "the" is not a query word
    assert window_weight(words("VPN the vpn, sleep"), weights) == pytest.approx(2 * 2.2 / 3.2 + 2.0)
    assert window_weight(words("nothing here"), weights) == 0.0


def test_the_window_holding_the_querys_rare_words_is_read_after_the_title(tokenizer):
    doc = Document("long", "Remote access notes", FILLER + " " + ANSWER + " " + FILLER)
    corpus = [doc.full_text, "printers on the third floor", "the vpn portal address"]
    chooser = BestWindows(tokenizer, DocumentFrequencies(corpus), WindowOptions(64))
    text = chooser.text("vpn reconnects after sleep", doc)
    assert text.startswith("Remote access notes. ")
    assert ANSWER in text
    assert token_count(tokenizer, text.split(". ", 1)[1]) <= 64
    assert not text.split(". ", 1)[1].startswith("filler0 ")


def test_short_documents_and_documents_without_a_query_word_are_read_from_their_start(tokenizer):
    short = Document("s", "Short", "only a few words about the vpn")
    long = Document("l", "", FILLER)
    chooser = BestWindows(tokenizer, DocumentFrequencies([short.full_text, long.full_text]), WindowOptions(32))
    assert chooser.text("vpn", short) == short.full_text
    start = chooser.text("printer", long)
    assert start.startswith("filler0 ") and token_count(tokenizer, start) <= 32


def test_the_last_window_reaches_the_end_of_the_document(tokenizer):
    doc = Document("d", "", FILLER + " " + ANSWER)
    chooser = BestWindows(tokenizer, DocumentFrequencies([doc.text, "other text"]), WindowOptions(48, 40))
    assert chooser.text("resume option", doc).endswith("resume option is on")


def test_one_documents_windows_serve_every_query_each_its_own(tokenizer):
    """A document's window word counts are kept after the first query; later queries still get their own best
    window (the first query's choice does not stick), and asking again gives the same text."""
    other = "the printer jam clears when the tray is reseated"
    doc = Document("two", "", FILLER + " " + ANSWER + " " + FILLER + " " + other + " " + FILLER)
    chooser = BestWindows(tokenizer, DocumentFrequencies([doc.text, "unrelated"]), WindowOptions(48))
    first = chooser.text("vpn reconnects after sleep", doc)
    second = chooser.text("printer jam tray", doc)
    assert ANSWER in first and other not in first
    assert other in second and ANSWER not in second
    assert chooser.text("vpn reconnects after sleep", doc) == first


@pytest.mark.parametrize(("size", "stride"), [(8, 0), (64, 65), (64, -1)])
def test_bad_window_options_are_refused(size, stride):
    with pytest.raises(ConfigError):
        WindowOptions(size, stride)


def test_the_command_lines_form():
    assert WindowOptions.parse("128") == WindowOptions(128)
    assert WindowOptions.parse("128/32").step == 32 and WindowOptions(128).step == 64
    with pytest.raises(ConfigError, match="N or N/STRIDE"):
        WindowOptions.parse("big")


def test_the_pipelines_reranker_reads_the_window_and_evaluations_keep_it_apart(bi_encoder, reranker, tmp_path):
    from explorer.retrieval.embedding_cache import EmbeddingCache

    docs = (Document("long", "Remote access notes", FILLER + " " + ANSWER + " " + FILLER),
            Document("other", "Printers", "Add the third floor printer by name."))
    data = Dataset("w", docs, {"q1": Query("q1", "vpn reconnects after sleep")}, {"test": {"q1": {"long": 1}}})
    whole = RetrievalPipeline.build(data, bi_encoder, reranker, EmbeddingCache(tmp_path), score_cache=ScoreCache())
    windowed = whole.with_window(WindowOptions(64))
    hits = whole.search("vpn reconnects after sleep", depth=2).first_stage
    read_whole = whole.reranker_texts("vpn reconnects after sleep", hits)
    read_window = windowed.reranker_texts("vpn reconnects after sleep", hits)
    by_doc = dict(zip([h.doc_id for h in hits], read_window))
    # without a window the reranker gets the whole document (and reads its first tokens, up to its limit)
    assert sorted(read_whole) == sorted(doc.full_text for doc in docs)
    assert ANSWER in by_doc["long"] and token_count(reranker.model.tokenizer, by_doc["long"]) < 80
    assert by_doc["other"] == docs[1].full_text
    # the reranker's score of the long document is the score of the window it read
    result = windowed.search("vpn reconnects after sleep", depth=2)
    scored = {h.doc_id: h.score for h in result.reranked}
    alone = reranker.engine.run([("vpn reconnects after sleep", by_doc["long"])], "scores").values
    assert scored["long"] == pytest.approx(float(alone.reshape(-1)[-1]), abs=0.05)
    config = EvalConfig(split="test")
    assert evaluation_key(whole, config) != evaluation_key(windowed, config)
    assert evaluation_key(windowed, config) == evaluation_key(whole.with_window(WindowOptions(64)), config)

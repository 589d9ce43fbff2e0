"""Passage splitting with the real tokenizer, max-passage grouping, and truncation counts."""

import pytest

from explorer.errors import ConfigError
from explorer.pipeline import RetrievalPipeline
from explorer.records import Dataset, Document, Hit
from explorer.retrieval.embedding_cache import EmbeddingCache
from explorer.retrieval.passages import PassageOptions, best_passage_per_document, count_over_length, split_document

WORDS = " ".join(f"word{i}" for i in range(300))


@pytest.fixture(scope="module")
def tokenizer(bi_encoder):
    return bi_encoder.model.tokenizer


def long_doc(doc_id="long", extra=""):
    return Document(doc_id, "Long title", WORDS + extra)


def test_windows_overlap_and_cover_the_text(tokenizer):
    options = PassageOptions(max_tokens=100, overlap=20)
    passages = split_document(long_doc(), tokenizer, options)
    total_tokens = len(tokenizer(WORDS, add_special_tokens=False)["input_ids"])
    step = 80
    assert len(passages) == -(-max(total_tokens - 100, 0) // step) + 1
    assert [p.passage_id for p in passages][:2] == ["long#0", "long#1"]
    assert all(p.text.startswith("Long title. ") and p.doc_id == "long" for p in passages)
    assert passages[0].text.split(". ", 1)[1].startswith("word0 ")
    assert passages[-1].text.endswith("word299")
    # consecutive windows share text (the overlap)
    first_tail = passages[0].text.split()[-3:]
    assert all(word in passages[1].text for word in first_tail)
    for passage in passages:
        body = passage.text.split(". ", 1)[1]
        assert len(tokenizer(body, add_special_tokens=False)["input_ids"]) <= 100


def test_short_documents_stay_whole(tokenizer):
    doc = Document("s", "Short", "only a few words")
    assert [(p.passage_id, p.text) for p in split_document(doc, tokenizer, PassageOptions())] == [("s#0", "Short. only a few words")]


@pytest.mark.parametrize(("tokens", "overlap"), [(8, 0), (100, 100), (100, -1)])
def test_bad_options(tokens, overlap):
    with pytest.raises(ConfigError):
        PassageOptions(tokens, overlap)


def test_max_passage_grouping_by_hand():
    hits = [Hit(1, "a#2", 0.9), Hit(2, "b#0", 0.8), Hit(3, "a#0", 0.7), Hit(4, "c#1", 0.5), Hit(5, "b#1", 0.4)]
    doc_of = {"a#2": "a", "a#0": "a", "b#0": "b", "b#1": "b", "c#1": "c"}
    grouped = best_passage_per_document(hits, doc_of, depth=2)
    assert grouped == [Hit(1, "a", 0.9, "a#2"), Hit(2, "b", 0.8, "b#0")]


def test_over_length_counts(tokenizer):
    over = count_over_length([WORDS, "short text", WORDS[:50]], tokenizer, max_tokens=256, reserved=2)
    assert (over.count, over.total, over.max_tokens) == (1, 3, 254)
    assert over.longest == len(tokenizer(WORDS, add_special_tokens=False)["input_ids"])


def test_pipeline_on_passages_groups_back_and_caches_per_splitting(bi_encoder, tmp_path):
    docs = (long_doc("long", " the vpn client reconnects after sleep when resume is on"),
            Document("other", "Printers", "Add the third floor printer by name."))
    data = Dataset("p", docs, {})
    cache = EmbeddingCache(tmp_path)
    options = PassageOptions(max_tokens=64, overlap=16)
    split = RetrievalPipeline.build(data, bi_encoder, None, cache, passages=options)
    assert split.index_report.units > 2 and split.index_report.documents == 2
    result = split.search("vpn reconnects after sleep", depth=5)
    assert [h.doc_id for h in result.first_stage] == ["long", "other"]
    best = result.first_stage[0].passage_id
    assert best.startswith("long#") and "vpn client reconnects" in split.candidate_text(result.first_stage[0])
    again = RetrievalPipeline.build(data, bi_encoder, None, cache, passages=options)
    other = RetrievalPipeline.build(data, bi_encoder, None, cache, passages=PassageOptions(max_tokens=96, overlap=16))
    whole = RetrievalPipeline.build(data, bi_encoder, None, cache)
    assert [p.index_report.from_cache for p in (again, other, whole)] == [True, False, False]
    assert whole.index_report.over_length.count == 1


def test_reranker_reads_the_best_passage(bi_encoder, reranker, tmp_path):
    data = Dataset("p", (long_doc("long", " the vpn client reconnects after sleep"),
                         Document("other", "Printers", "Add the third floor printer by name.")), {})
    pipeline = RetrievalPipeline.build(data, bi_encoder, reranker, EmbeddingCache(tmp_path),
                                       passages=PassageOptions(max_tokens=64, overlap=16))
    result = pipeline.search("vpn reconnects after sleep", depth=2)
    by_doc = {h.doc_id: h for h in result.reranked}
    assert by_doc["long"].passage_id == result.first_stage[0].passage_id
    assert by_doc["other"].passage_id == "other#0"

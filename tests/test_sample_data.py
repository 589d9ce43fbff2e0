"""The shipped sample data meets what the explorer promises about it."""

import re

STOP = {"the", "a", "an", "to", "of", "in", "on", "for", "how", "do", "i", "is", "what", "we", "our", "and", "with",
        "my", "does", "when", "why", "can", "should", "which", "it", "be", "after", "from", "at", "by", "are"}


def words(text):
    return set(re.findall(r"[a-z0-9]+", text.lower())) - STOP


def test_sizes_and_splits(sample):
    assert len(sample.documents) >= 400
    assert len(sample.queries) >= 150
    assert len(sample.qrels_by_split["train"]) >= 90
    assert len(sample.qrels_by_split["test"]) >= 40
    assert not set(sample.qrels_by_split["train"]) & set(sample.qrels_by_split["test"])
    assert all(doc.title.strip() and doc.text.strip() for doc in sample.documents)


def test_every_query_has_an_answer_and_two_near_misses(sample):
    for split, qrels in sample.qrels_by_split.items():
        for query_id, labels in qrels.items():
            assert query_id in sample.queries, f"{split}: {query_id} has labels but no text"
            assert set(labels.values()) <= {0, 1, 2, 3}
            assert 3 in labels.values(), f"{query_id} has no label-3 passage"
            query_words = words(sample.queries[query_id].text)
            near_misses = [
                doc_id for doc_id, grade in labels.items()
                if grade <= 1 and len(query_words & words(sample.document(doc_id).full_text)) >= 2
            ]
            assert len(near_misses) >= 2, f"{query_id} has fewer than two near-miss passages"


def test_labels_point_at_known_documents(sample):
    known = {doc.doc_id for doc in sample.documents}
    for qrels in sample.qrels_by_split.values():
        for labels in qrels.values():
            assert set(labels) <= known

"""Loading the BEIR layout into typed records."""

import json

import pytest

from explorer.loading import load_beir
from explorer.errors import DataLoadError


def write_beir(folder, corpus, queries=(), qrels=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    for split, rows in (qrels or {}).items():
        (folder / "qrels").mkdir(exist_ok=True)
        lines = ["query-id\tcorpus-id\tscore"] + ["\t".join(map(str, r)) for r in rows]
        (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_loads_records_labels_and_splits(tmp_path):
    folder = write_beir(
        tmp_path / "tiny",
        corpus=[{"_id": "d1", "title": "Reset VPN", "text": "Run vpn reset."}, {"_id": 2, "text": "No title."}],
        queries=[{"_id": "q1", "text": "vpn reset"}, {"_id": "q2", "text": "unlabelled"}],
        qrels={"test": [("q1", "d1", 3), ("q1", "2", 0)], "train": [("q9", "d1", 1)]},
    )
    data = load_beir(folder)
    assert [d.doc_id for d in data.documents] == ["d1", "2"]
    assert data.document("d1").full_text == "Reset VPN. Run vpn reset."
    assert data.document("2").full_text == "No title."
    assert data.splits == ("test", "train")
    assert data.labels_for("q1") == {"d1": 3, "2": 0}
    # q9 has labels but no query text: it is not offered as a labelled query
    assert [q.query_id for q in data.labelled_queries()] == ["q1"]


@pytest.mark.parametrize(
    ("corpus_text", "message"),
    [
        ('{"_id": "a", "text": "x"}\n{not json}\n', "line 2: not valid JSON"),
        ('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n', "duplicate document id 'a'"),
        ('{"title": "no id"}\n', "no \"_id\" field"),
        ('["a list"]\n', "expected a JSON object"),
        ("\n\n", "holds no documents"),
    ],
)
def test_bad_corpus_lines_name_the_line_and_the_fix(tmp_path, corpus_text, message):
    (tmp_path / "corpus.jsonl").write_text(corpus_text, encoding="utf-8")
    with pytest.raises(DataLoadError, match=message):
        load_beir(tmp_path)


def test_missing_folder_and_corpus(tmp_path):
    with pytest.raises(DataLoadError, match="No folder"):
        load_beir(tmp_path / "absent")
    with pytest.raises(DataLoadError, match="no corpus.jsonl"):
        load_beir(tmp_path)


def test_qrels_with_too_few_columns(tmp_path):
    folder = write_beir(tmp_path, corpus=[{"_id": "a", "text": "x"}])
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("q1 a 1\n", encoding="utf-8")
    with pytest.raises(DataLoadError, match="test.tsv line 1: expected query-id, corpus-id and score"):
        load_beir(folder)


def test_cranfield_counts(cranfield_path):
    data = load_beir(cranfield_path)
    assert len(data.documents) == 1400
    assert len(data.queries) == 225
    assert sum(len(labels) for labels in data.qrels_by_split["test"].values()) == 1612

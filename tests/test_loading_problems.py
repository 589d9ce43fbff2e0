"""Every bad input in the table gives its documented message, fatal or as a warning."""

import re
from pathlib import Path

import pytest

from explorer.errors import DataLoadError
from explorer.loading import LoadSpec, TextSource, delimiter_choice, read_dataset
from tests.bad_inputs import BAD_INPUTS, BadInput


def spec_for(case: BadInput) -> LoadSpec:
    def source(pair):
        return TextSource.from_bytes(*pair) if pair else None

    return LoadSpec(kind=case.kind, name="bad", corpus=source(case.corpus), queries=source(case.queries),
                    labels=source(case.labels), max_upload_mb=case.max_upload_mb,
                    delimiter=delimiter_choice(case.extra.get("delimiter")))


def test_the_table_is_large_enough():
    assert len(BAD_INPUTS) >= 15
    assert len({case.name for case in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.name)
def test_bad_input_message(case):
    if case.outcome == "fatal":
        with pytest.raises(DataLoadError) as caught:
            read_dataset(spec_for(case))
        assert re.search(case.message, str(caught.value)), str(caught.value)
        return
    result = read_dataset(spec_for(case))
    messages = [str(problem) for problem in result.report.problems]
    assert any(re.search(case.message, m) for m in messages), messages
    assert result.report.documents == case.documents


def test_documented_in_docs():
    """docs/data-formats.md lists every case of the table by name."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "data-formats.md").read_text(encoding="utf-8")
    missing = [case.name for case in BAD_INPUTS if case.name not in text]
    assert not missing, missing


def test_progress_is_reported_while_reading():
    seen = []
    data = b"".join(b'{"id": "%d", "text": "doc %d"}\n' % (i, i) for i in range(12000))
    read_dataset(LoadSpec(kind="table", name="p", corpus=TextSource.from_bytes("c.jsonl", data)),
                 progress=lambda done, total: seen.append((done, total)))
    assert len(seen) >= 3 and seen[-1][1] == len(data) and seen[-1][0] > seen[0][0]


def test_a_page_load_reads_only_under_the_readable_roots(tmp_path):
    inside = tmp_path / "docs.txt"
    inside.write_text("first document\nsecond document\n")
    (tmp_path / "link.txt").symlink_to("/etc/hostname")  # a link inside that leads outside
    roots = (tmp_path,)
    assert len(read_dataset(LoadSpec(kind="lines", name="ok", corpus=TextSource.from_path(inside),
                                     readable_roots=roots)).dataset.documents) == 2
    for outside in ("/etc/passwd", tmp_path / "link.txt", tmp_path / ".." / ".." / "etc" / "passwd"):
        with pytest.raises(DataLoadError, match="reads files only under its data folders.*EXPLORER_DATA_DIRS"):
            read_dataset(LoadSpec(kind="lines", name="no", corpus=TextSource.from_path(outside), readable_roots=roots))
    with pytest.raises(DataLoadError, match="EXPLORER_DATA_DIRS"):
        read_dataset(LoadSpec(kind="beir", name="no", folder=Path("/etc"), readable_roots=roots))


def beir_folder(root: Path, corpus: bytes, **files: bytes) -> Path:
    """A BEIR folder with ``corpus`` as corpus.jsonl and the other ``files`` (path relative to it -> content)."""
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_bytes(corpus)
    for name, content in files.items():
        (root / name).write_bytes(content)
    return root


def test_a_beir_corpus_holding_a_json_array_says_so(tmp_path):
    folder = beir_folder(tmp_path / "b", b'[{"_id": "d1", "text": "one"},\n {"_id": "d2", "text": "two"}]\n')
    with pytest.raises(DataLoadError) as caught:
        read_dataset(LoadSpec(kind="beir", name="b", folder=folder))
    message = str(caught.value)
    assert message.startswith("corpus.jsonl line 1: the file starts with '[': this is a JSON array")
    assert "jq -c '.[]'" in message and "see the problems above" not in message.lower()


def test_no_documents_quotes_the_problems_that_explain_it(tmp_path):
    folder = beir_folder(tmp_path / "b", b'{"_id": "d1", "body": "one"}\n{"_id": "d2", "body": "two"}\n')
    expected = (r"no documents could be read\. The first problem\(s\): corpus\.jsonl line 1: no 'text' field; the "
                r"record was skipped\. Its fields: '_id', 'body'; corpus\.jsonl line 2: .*--text-column")
    with pytest.raises(DataLoadError, match=expected):
        read_dataset(LoadSpec(kind="beir", name="b", folder=folder))


def test_labels_outside_qrels_tsv_are_named_as_not_read(tmp_path):
    folder = beir_folder(tmp_path / "b", b'{"_id": "d1", "text": "one"}\n', **{
        "queries.jsonl": b'{"_id": "q1", "text": "one"}\n', "qrels.txt": b"q1 0 d1 1\n", "test.qrels": b"q1 0 d1 1\n",
        "qrels/dev.trec": b"q1 0 d1 1\n", "qrels/test.tsv": b"q1\td1\t1\n", "notes.txt": b"not labels\n"})
    result = read_dataset(LoadSpec(kind="beir", name="b", folder=folder))
    assert result.report.labels == 1
    unread = [(p.file, p.message) for p in result.report.problems if p.kind == "labels not read"]
    assert [file for file, _ in unread] == ["qrels.txt", "qrels/dev.trec", "test.qrels"]
    assert "a BEIR folder's labels are read from qrels/<split>.tsv only" in unread[0][1]


def test_grades_are_read_as_trec_eval_reads_them():
    """A fraction is cut to its whole part (trec_eval's atol), a negative grade is kept; each is said."""
    labels = TextSource.from_bytes("l.trec", b"q1 0 1 1.5\nq1 0 2 -1\nq2 0 1 2.0\nq2 0 2 -0.5\nq3 0 1 inf\n")
    corpus = TextSource.from_bytes("c.txt", b"first\nsecond\n")
    queries = TextSource.from_bytes("q.tsv", b"q1\tone\nq2\ttwo\nq3\tthree\n")  # labels need their queries
    result = read_dataset(LoadSpec(kind="lines", name="g", corpus=corpus, queries=queries, labels=labels))
    assert result.dataset.qrels_by_split["test"] == {"q1": {"1": 1, "2": -1}, "q2": {"1": 2, "2": 0}}
    kinds = [(p.kind, p.line) for p in result.report.problems]
    assert kinds == [("grade not whole", 1), ("grade not whole", 4), ("bad grade", 5), ("negative grade", 2)]
    assert "1 label(s) have a negative grade, the first -1" in result.report.problems[-1].message


def test_control_characters_are_removed_from_titles_texts_and_queries():
    corpus = TextSource.from_bytes("c.jsonl", b'{"id": "d1", "title": "Print\\u0000er", '
                                              b'"text": "\\u001b[1mBold\\u001b[0m and\\ttab\\u007f\\u009b"}\n')
    queries = TextSource.from_bytes("q.jsonl", b'{"_id": "q1", "text": "bold\\u0008 text"}\n')
    result = read_dataset(LoadSpec(kind="table", name="c", corpus=corpus, queries=queries))
    document = result.dataset.document("d1")
    assert (document.title, document.text) == ("Printer", "Bold and\ttab")
    assert result.dataset.queries["q1"].text == "bold text"
    assert [(p.kind, p.file, p.line) for p in result.report.problems] == [("control characters", "c.jsonl", 1),
                                                                            ("control characters", "q.jsonl", 1)]


def test_a_raw_control_character_inside_a_json_string_is_kept_and_cleaned():
    corpus = TextSource.from_bytes("c.jsonl", b'{"id": "d1", "text": "bell\x07 rings"}\n')
    result = read_dataset(LoadSpec(kind="table", name="c", corpus=corpus))
    assert result.dataset.document("d1").text == "bell rings"
    assert [p.kind for p in result.report.problems] == ["control characters"]


@pytest.mark.parametrize(("fmt", "delimiter", "message"), [
    ("jsonl", ";", r"a delimiter applies to CSV and TSV tables, not JSONL"),
    ("csv", ":", r"the delimiter ':' is not one of ',', ';', '\\t', '\|'"),
])
def test_a_delimiter_that_cannot_apply_is_refused(fmt, delimiter, message):
    corpus = TextSource.from_bytes(f"c.{fmt}", b'{"id": "d1", "text": "one"}\n')
    with pytest.raises(DataLoadError, match=message):
        read_dataset(LoadSpec(kind="table", name="c", corpus=corpus, table_format=fmt, delimiter=delimiter))


def _zip_of(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_and_nothing_large_is_read():
    bomb = _zip_of({"big.txt": b"a" * (40 * 1024 * 1024), "small.txt": b"fine text"})
    assert len(bomb) < 100_000  # 40 MB of text compressed to a few KB
    with pytest.raises(DataLoadError, match="over the 4 MB one document may hold"):
        read_dataset(LoadSpec(kind="text_zip", name="bomb", corpus=TextSource.from_bytes("bomb.zip", bomb)))
    dense = _zip_of({"dense.txt": b"b" * (3 * 1024 * 1024)})  # under the size limit, compressed over 100 to 1
    with pytest.raises(DataLoadError, match="zip bombs"):
        read_dataset(LoadSpec(kind="text_zip", name="dense", corpus=TextSource.from_bytes("dense.zip", dense)))


def test_a_document_size_limit_is_a_setting(tmp_path):
    text = ("word " * 300_000).encode()  # 1.5 MB of varied enough text
    (tmp_path / "long.txt").write_bytes(text)
    assert read_dataset(LoadSpec(kind="text_folder", name="ok", folder=tmp_path)).report.documents == 1
    with pytest.raises(DataLoadError, match="over the 1 MB one document may hold.*EXPLORER_MAX_DOCUMENT_MB"):
        read_dataset(LoadSpec(kind="text_folder", name="no", folder=tmp_path, max_document_mb=1))


def test_a_data_set_its_own_reader_would_refuse_is_not_saved(tmp_path):
    from explorer.loading.store import save_dataset, saved_datasets

    line = ('"' * 6 * 1024 * 1024).encode()  # a 6 MB line, read as one document; each quote doubles in JSON
    result = read_dataset(LoadSpec(kind="lines", name="huge", corpus=TextSource.from_bytes("huge.txt", line)))
    with pytest.raises(DataLoadError, match="could not be read back. Nothing was saved"):
        save_dataset(result, tmp_path)
    assert saved_datasets(tmp_path) == [] and not list(tmp_path.iterdir())


def _beir_zip(files: dict[str, bytes]) -> TextSource:
    return TextSource.from_bytes("up.zip", _zip_of(files))


BEIR_CORPUS = b'{"_id": "d1", "text": "the vpn drops at noon"}\n{"_id": "d2", "text": "printer jams"}\n'
BEIR_QRELS = b"query-id\tcorpus-id\tscore\nq1\td1\t1\n"


@pytest.mark.parametrize(("files", "message"), [
    ({"kb/queries.jsonl": b'{"_id": "q1", "text": "vpn"}\n'}, r"up\.zip: the zip holds no corpus\.jsonl.*zip the BEIR "
                                                               "folder itself"),
    ({"kb/corpus.jsonl.gz": b"\x1f\x8b"}, r"up\.zip:kb/corpus\.jsonl\.gz: the corpus is gzipped.*gunzip"),
    ({"a/corpus.jsonl": BEIR_CORPUS, "b/corpus.jsonl": BEIR_CORPUS}, r"several BEIR folders \(a/, b/\)"),
    ({"kb/corpus.jsonl": b"a" * (3 * 1024 * 1024)}, "zip bombs"),
    ({"kb/corpus.jsonl": BEIR_CORPUS, "kb/qrels": b"x", "kb/qrels/test.tsv": BEIR_QRELS},
     r"up\.zip:kb/qrels/test\.tsv: could not be unpacked"),
    ({"kb/corpus.jsonl": b"not json\n"},
     r"up\.zip: no documents could be read\. The first problem\(s\): corpus\.jsonl line 1"),
])
def test_a_zipped_beir_folder_that_cannot_be_read_says_why(files, message):
    with pytest.raises(DataLoadError, match=message):
        read_dataset(LoadSpec(kind="beir", name="b", corpus=_beir_zip(files)))


def test_a_zipped_beir_folder_is_read_as_safely_as_any_zip_and_reports_what_the_folder_would(tmp_path):
    """Unsafe member paths are skipped with the zip's note, gzipped files are said to be unread, the folder reader's
    own warnings come as for the folder, nothing outside the zip's folder is written, and nothing is left behind."""
    import tempfile

    from explorer.loading.beir import read_beir

    members = {"kb/corpus.jsonl": BEIR_CORPUS + b'{"_id": "d1", "text": "again"}\n', "kb/qrels/test.tsv": BEIR_QRELS,
               "kb/queries.jsonl": b'{"_id": "q1", "text": "vpn at noon"}\n', "kb/qrels.txt": b"q1 0 d1 1\n",
               "kb/queries.jsonl.gz": b"\x1f\x8b", "../../evil/corpus.jsonl": b"{}\n", "/tmp/evil.txt": b"x"}
    before = set(Path(tempfile.gettempdir()).glob("explorer-beir-zip-*"))
    result = read_dataset(LoadSpec(kind="beir", name="kb", corpus=_beir_zip(members)))
    assert [d.doc_id for d in result.dataset.documents] == ["d1", "d2"] and result.dataset.splits == ("test",)
    notes = {(p.kind, p.file) for p in result.report.problems}
    assert {("unsafe path", "up.zip:../../evil/corpus.jsonl"), ("unsafe path", "up.zip:/tmp/evil.txt"),
            ("compressed file", "up.zip:kb/queries.jsonl.gz")} <= notes
    folder = tmp_path / "kb"
    (folder / "qrels").mkdir(parents=True)
    for name, data in members.items():
        if name.startswith("kb/") and not name.endswith(".gz"):
            (tmp_path / name).write_bytes(data)
    from_folder = {(p.kind, p.file, p.line, p.message) for p in read_beir(folder).report.problems}
    assert from_folder and from_folder <= {(p.kind, p.file, p.line, p.message) for p in result.report.problems}
    assert not Path("/tmp/evil.txt").exists() and not Path("/evil").exists()
    assert set(Path(tempfile.gettempdir()).glob("explorer-beir-zip-*")) == before

"""Every supported input format, each read from a real small file in tests/data/formats."""

import codecs
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.loading import ColumnMapping, LoadSpec, TextSource, guess_mapping, peek_columns, read_beir, read_dataset
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import iter_lines
from explorer.loading.store import save_dataset, saved_datasets, saved_report
from explorer.loading.tables import sniff_delimiter
from explorer.loading.text_files import split_title

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ROOT / "tests" / "data" / "formats"
DOC_IDS = {"printer-01", "wifi-02", "vpn-03", "badge-04", "laptop-05", "monitor-06"}


def source(name, upload=False):
    path = FORMATS / name
    return TextSource.from_bytes(name, path.read_bytes()) if upload else TextSource.from_path(path)


def check_corpus(result, ids=DOC_IDS):
    data = result.dataset
    assert result.report.documents == 6 and result.report.warnings == 0
    assert {d.doc_id for d in data.documents} == ids
    return data


@pytest.mark.parametrize("upload", [False, True], ids=["path", "upload"])
@pytest.mark.parametrize(("name", "text_column"), [("corpus.jsonl", "body"), ("corpus.csv", "text"),
                                                    ("corpus.tsv", "text"), ("corpus.parquet", "content")])
def test_tables_with_guessed_mapping_keep_extra_columns_as_metadata(name, text_column, upload):
    result = read_dataset(LoadSpec(kind="table", name="t", corpus=source(name, upload)))
    data = check_corpus(result)
    badge = data.document("badge-04")
    assert badge.title == "Replacing a lost badge"
    assert badge.text.startswith("Report the loss to security@example.invalid <within 24 hours>")
    assert badge.metadata == {"team": "security", "date": "2025-03-11"}
    columns = peek_columns(source(name), name.rsplit(".", 1)[1], ProblemLog())
    assert text_column in columns and guess_mapping(columns).text == text_column


def test_explicit_mapping_without_id_numbers_the_rows():
    mapping = ColumnMapping(text="text", id=None, title="title", metadata=("team",))
    data = read_dataset(LoadSpec(kind="table", name="t", corpus=source("corpus.csv"), mapping=mapping)).dataset
    # the header is line 1, so rows are numbered from line 2
    assert [d.doc_id for d in data.documents] == ["2", "3", "4", "5", "6", "7"]
    assert data.document("2").metadata == {"team": "it-desk"}


@pytest.mark.parametrize(("queries", "labels"), [("queries.jsonl", "labels.trec"), ("queries.tsv", "labels.tsv"),
                                                 ("queries.csv", "labels.trec")])
def test_queries_and_labels_files(queries, labels):
    result = read_dataset(LoadSpec(kind="table", name="t", corpus=source("corpus.jsonl"), queries=source(queries),
                                   labels=source(labels), labels_split="dev"))
    data = check_corpus(result)
    assert result.report.queries == 3 and result.report.labelled_queries == 3 and result.report.labels == 5
    assert data.queries["q2"].text == "vpn disconnects when laptop wakes up"
    assert data.qrels_by_split["dev"]["q1"] == {"printer-01": 3, "monitor-06": 0}


def test_text_folder_and_zip_use_file_names_and_first_lines():
    expected = {"badge-04", "vpn-03", "wifi-02", "hardware/laptop-05", "hardware/monitor-06", "hardware/printer-01"}
    for spec in (LoadSpec(kind="text_folder", name="notes", folder=FORMATS / "notes"),
                 LoadSpec(kind="text_zip", name="notes", corpus=source("notes.zip", upload=True))):
        data = check_corpus(read_dataset(spec), ids=expected)
        vpn = data.document("vpn-03")
        assert vpn.title == "VPN client drops after sleep"  # the Markdown '#' is dropped
        assert vpn.text.startswith("Quit the client before closing the lid")
        assert vpn.metadata["source"] == "vpn-03.md" and len(vpn.metadata["modified"]) == 10


def test_plain_lines_one_document_per_line():
    result = read_dataset(LoadSpec(kind="lines", name="l", corpus=source("lines.txt"), queries=source("queries.tsv")))
    data = result.dataset
    assert result.report.documents == 6 and result.report.queries == 3
    assert [d.doc_id for d in data.documents] == ["1", "3", "5", "7", "9", "11"]  # blank lines are not documents
    assert data.document("3").text.startswith("Guest wifi for visitors: Visitors join NW-Guest")


def test_beir_folder_with_any_split_name(tmp_path):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    shutil.copy(FORMATS / "queries.jsonl", folder / "queries.jsonl")
    lines = (FORMATS / "corpus.jsonl").read_text().replace('"id"', '"_id"').replace('"body"', '"text"')
    (folder / "corpus.jsonl").write_text(lines)
    shutil.copy(FORMATS / "labels.tsv", folder / "qrels" / "validation.tsv")
    result = read_dataset(LoadSpec(kind="beir", name="", folder=folder))
    data = check_corpus(result)
    assert data.splits == ("validation",) and result.report.labels == 5
    assert data.document("vpn-03").metadata == {"team": "network", "date": "2024-11-02"}


def test_ir_datasets_reads_a_local_copy(tmp_path):
    """ir_datasets cannot download here; it reads the files placed where it keeps them."""
    home = tmp_path / "ir_datasets"
    shutil.copytree(FORMATS / "irds_cranfield", home / "cranfield")
    env = dict(os.environ, IR_DATASETS_HOME=str(home))
    done = subprocess.run([sys.executable, "-m", "explorer", "load", "--kind", "ir_datasets", "cranfield", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    assert (report["documents"], report["queries"], report["labels"]) == (6, 3, 4)


def test_ir_datasets_failed_download_is_a_clear_error(tmp_path):
    """Runs only where the download host is out of reach (as on this machine): then it must say so."""
    import socket

    try:
        socket.getaddrinfo("ir.dcs.gla.ac.uk", 80)
        pytest.skip("the ir_datasets download host is reachable here")
    except OSError:
        pass
    env = dict(os.environ, IR_DATASETS_HOME=str(tmp_path / "empty"))
    done = subprocess.run([sys.executable, "-m", "explorer", "load", "--kind", "ir_datasets", "cranfield"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "error: ir_datasets:cranfield: ir_datasets could not download the files; this machine may be offline" in done.stderr


def test_ir_datasets_unknown_id_is_a_clear_error():
    from explorer.errors import DataLoadError

    with pytest.raises(DataLoadError, match="ir_datasets has no data set 'no-such/collection'"):
        read_dataset(LoadSpec(kind="ir_datasets", name="x", ir_datasets_id="no-such/collection"))


def test_saved_copy_round_trips_with_metadata_and_report(tmp_path):
    result = read_dataset(LoadSpec(kind="table", name="office it", corpus=source("corpus.jsonl"),
                                   queries=source("queries.jsonl"), labels=source("labels.trec")))
    folder = save_dataset(result, tmp_path)
    assert save_dataset(result, tmp_path) == folder  # same content, same folder
    assert saved_datasets(tmp_path) == [folder] and folder.name.startswith("office-it-")
    again = read_beir(folder)
    assert again.dataset.document("badge-04") == result.dataset.document("badge-04")
    assert again.dataset.qrels_by_split == result.dataset.qrels_by_split
    assert saved_report(folder) == result.report


@pytest.mark.parametrize(("content", "title", "text"), [
    ("# Heading\n\nBody text.\n", "Heading", "Body text."),
    ("\n\nFirst line\nsecond line", "First line", "second line"),
    ("Only a title", "Only a title", "Only a title"),
    ("", "", ""),
])
def test_split_title(content, title, text):
    assert split_title(content) == (title, text)


def test_cranfield_counts(cranfield_path):
    report = read_beir(cranfield_path).report
    assert (report.documents, report.queries, report.labels) == (1400, 225, 1612)
    assert report.empty_documents == 2  # docs 471 and 995 are empty in the original


def test_two_loads_saved_at_the_same_moment_keep_their_own_documents(tmp_path):
    """Two sessions press Load together: each saved data set holds its own documents, and no load fails."""
    import threading

    def lines(prefix: str) -> TextSource:
        text = "\n".join(f"{prefix} document number {i} about printers, badges and the vpn" for i in range(40_000))
        return TextSource.from_bytes(f"{prefix}.txt", text.encode())

    results = {name: read_dataset(LoadSpec(kind="lines", name=name, corpus=lines(name))) for name in ("first", "second")}
    saved: dict[str, Path] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def save(name: str) -> None:
        start.wait()
        try:
            saved[name] = save_dataset(results[name], tmp_path)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for name, folder in saved.items():
        again = read_beir(folder).dataset
        assert [d.text for d in again.documents] == [d.text for d in results[name].dataset.documents]
    assert sorted(p.name.split("-")[0] for p in saved_datasets(tmp_path)) == ["first", "second"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]  # nothing left behind


BOMS = {"utf-8-sig": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}


def with_bom(name: str, encoding: str) -> TextSource:
    """The fixture ``name`` saved again in ``encoding``, byte-order mark first (utf-8-sig writes its own)."""
    text = (FORMATS / name).read_text(encoding="utf-8")
    return TextSource.from_bytes(name, BOMS[encoding] + text.encode(encoding))


@pytest.mark.parametrize("encoding", list(BOMS))
@pytest.mark.parametrize("name", ["corpus.jsonl", "corpus.csv", "corpus.tsv"])
def test_text_with_a_byte_order_mark_reads_as_utf8_does(name, encoding):
    plain = read_dataset(LoadSpec(kind="table", name="t", corpus=source(name), queries=source("queries.tsv"),
                                  labels=source("labels.trec")))
    marked = read_dataset(LoadSpec(kind="table", name="t", corpus=with_bom(name, encoding),
                                   queries=with_bom("queries.jsonl", encoding),
                                   labels=with_bom("labels.tsv", encoding)))
    assert marked.report.warnings == 0, marked.report.problems
    assert marked.dataset.documents == plain.dataset.documents
    assert marked.dataset.queries == plain.dataset.queries
    assert marked.dataset.qrels_by_split == plain.dataset.qrels_by_split


@pytest.mark.parametrize("encoding", list(BOMS))
def test_plain_lines_and_text_files_with_a_byte_order_mark(encoding, tmp_path):
    lines = read_dataset(LoadSpec(kind="lines", name="l", corpus=with_bom("lines.txt", encoding))).dataset
    assert [d.doc_id for d in lines.documents] == ["1", "3", "5", "7", "9", "11"]
    assert lines.document("3").text.startswith("Guest wifi for visitors: Visitors join NW-Guest")
    folder = tmp_path / "notes"
    shutil.copytree(FORMATS / "notes", folder)
    vpn = folder / "vpn-03.md"
    vpn.write_bytes(BOMS[encoding] + vpn.read_text(encoding="utf-8").encode(encoding))
    data = read_dataset(LoadSpec(kind="text_folder", name="notes", folder=folder)).dataset
    assert data.document("vpn-03").title == "VPN client drops after sleep"


def test_excel_unicode_text_and_a_semicolon_csv_fixture():
    """Queries saved as Excel's "Unicode text" (UTF-16 with a BOM) and a CSV saved with semicolons load as they are."""
    result = read_dataset(LoadSpec(kind="table", name="t", corpus=source("corpus_semicolon.csv"),
                                   queries=source("queries_utf16.tsv", upload=True), labels=source("labels.trec")))
    data = check_corpus_with_note(result)
    assert data.document("badge-04").text.startswith("Report the loss to security@example.invalid <within 24 hours>; a")
    assert data.queries["q2"].text == "vpn disconnects when laptop wakes up" and result.report.labels == 5


def check_corpus_with_note(result):
    """The six documents, the only warning being the note that the delimiter was sniffed as a semicolon."""
    assert [p.kind for p in result.report.problems] == ["delimiter sniffed"]
    assert {d.doc_id for d in result.dataset.documents} == DOC_IDS
    return result.dataset


@pytest.mark.parametrize(("name", "chosen", "fmt"), [("corpus_semicolon.csv", ";", "csv"), ("corpus.csv", ",", "tsv"),
                                                     ("corpus.tsv", "\t", "csv")])
def test_a_chosen_delimiter_is_used_with_no_note(name, chosen, fmt):
    result = read_dataset(LoadSpec(kind="table", name="t", corpus=source(name), table_format=fmt, delimiter=chosen))
    check_corpus(result)
    assert "text" in peek_columns(source(name), fmt, ProblemLog(), delimiter=chosen)


@pytest.mark.parametrize(("data", "fmt", "expected"), [
    (b"id|title|text\n1|a|b c\n2|d|e, f\n", "csv", "|"),
    (b"id,text\n1,a; b; c\n2,d; e\n", "csv", ","),  # semicolons in the text only
    (b"id;text\n1;one, two\n2;three, four\n", "tsv", ";"),
    (b"text\nonly one column\n", "tsv", "\t"),  # nothing to sniff: the usual one
])
def test_sniffed_delimiter(data, fmt, expected):
    assert sniff_delimiter(TextSource.from_bytes(f"t.{fmt}", data), fmt) == expected


def test_utf16_lines_are_streamed_with_the_line_limit_and_replacements():
    """The long-line limit applies to UTF-16 as read (in characters), and bytes that are not UTF-16 are counted."""
    data = codecs.BOM_UTF16_LE + "short\n".encode("utf-16-le") + ("x" * 300 + "\n").encode("utf-16-le") \
        + b"o\x00k\x00\x00\xdc\n\x00" + "end".encode("utf-16-le")
    log = ProblemLog()
    lines = list(iter_lines(TextSource.from_bytes("w.txt", data), log, max_line_bytes=200))
    assert lines == [(1, "short"), (3, "ok\ufffd"), (4, "end")]
    assert [p.kind for p in log.listed] == ["line too long", "undecodable bytes"]
    assert "1 character(s) could not be read as UTF-16" in log.listed[1].message


def test_an_uploaded_utf16_stream_is_left_open():
    upload = TextSource.from_bytes("q.tsv", "q1\thello\n".encode("utf-16"))
    assert list(iter_lines(upload, ProblemLog())) == [(1, "q1\thello")]
    assert not upload.stream.closed


def test_labels_without_queries_are_reported_not_counted_as_labelled_queries():
    result = read_dataset(LoadSpec(kind="table", name="no queries", corpus=source("corpus.jsonl"),
                                   labels=source("labels.trec")))
    report = result.report
    assert report.queries == 0 and report.labelled_queries == 0 and report.labels == 5
    assert any(p.kind == "labels without queries" and "Load the queries file" in p.message for p in report.problems)


def zip_of_folder(folder: Path, top: str = "", extra: dict[str, bytes] | None = None) -> bytes:
    """The bytes of a zip of ``folder``'s files (under ``top``/ when given, as zipping a folder makes), with ``extra``
    members (name -> bytes) added."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, "/".join(filter(None, (top, path.relative_to(folder).as_posix()))))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("top", ["", "kb"], ids=["at the top", "in one folder"])
def test_a_zip_of_a_beir_folder_reads_as_the_folder_does(top):
    """Zipped at its top or as a folder (with the __MACOSX copies a Mac adds), the upload is the folder's data set."""
    from explorer.settings import SAMPLE_DATA

    extra = {f"__MACOSX/{top or '.'}/._corpus.jsonl": b"\x00\x05\x16\x07", f"{top}/.DS_Store".lstrip("/"): b"\x00"}
    upload = TextSource.from_bytes("kb.zip", zip_of_folder(SAMPLE_DATA, top, extra))
    result = read_dataset(LoadSpec(kind="beir", name="", corpus=upload))
    folder = read_beir(SAMPLE_DATA)
    assert result.dataset.documents == folder.dataset.documents and result.dataset.queries == folder.dataset.queries
    assert result.dataset.qrels_by_split == folder.dataset.qrels_by_split and result.dataset.splits == ("test", "train")
    assert result.dataset.name == "kb" and result.report.source == "kb.zip"
    assert result.report.problems == folder.report.problems == ()

"""Every supported input format, each read from a real small file in tests/data/formats."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.loading import ColumnMapping, LoadSpec, TextSource, guess_mapping, peek_columns, read_beir, read_dataset
from explorer.loading.problems import ProblemLog
from explorer.loading.store import save_dataset, saved_datasets, saved_report
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

"""Metadata fields from loading to the Data set page: a BEIR corpus's nested ``metadata`` becomes fields, each field's
kind is read, every unreadable date or number is reported line by line, and no document is lost over one."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.loading import ColumnMapping, LoadSpec, TextSource, load_beir, read_beir, read_dataset
from explorer.loading.store import save_dataset
from explorer.signals.fields import BadValue, summarise_fields
from explorer.views.dataset_summary import (
    FIELD_COLUMNS,
    UNREADABLE_COLUMNS,
    field_table,
    fields_with_unreadable_values,
    metadata_fields,
    unreadable_summary,
    unreadable_table,
)
from ui.plain_text import markdown_literal

ROOT = Path(__file__).resolve().parent.parent
DATASET_PAGE = ROOT / "pages" / "1_Dataset.py"
FOLDER_LABEL = "A BEIR folder on this machine…"
NOT_A_DATE = "not a date in a known form (use YYYY-MM-DD)"
AMBIGUOUS = "ambiguous: day/month or month/day; write it as YYYY-MM-DD"
NO_SUCH_DATE = "no such date (day is out of range for month)"

# doc id -> its nested metadata: "updated" in many written forms (13 good, 3 bad, 2 empty, 1 absent), "pages" with
# one value that is not a number, "section" with three values
NESTED = {
    "d01": {"updated": "2024-01-15", "pages": 12, "section": "news"},
    "d02": {"updated": "2024-02-01T09:30:00Z", "pages": 3.5, "section": "sport"},
    "d03": {"updated": "16 July 2024", "pages": "1,200", "section": "science"},
    "d04": {"updated": "yesterday", "pages": 7, "section": "news"},
    "d05": {"updated": "July 4, 2024", "pages": 1, "section": "sport"},
    "d06": {"updated": "31/12/2023", "pages": 2, "section": "science"},
    "d07": {"updated": "20240301", "pages": "n/a", "section": "news"},
    "d08": {"updated": "2024/05/06", "pages": 4, "section": "sport"},
    "d09": {"updated": "2024-02-30", "pages": 5, "section": "science"},
    "d10": {"updated": "16.07.2024", "pages": 6, "section": "news"},
    "d11": {"updated": "Mar 3 2024", "pages": 8, "section": "sport"},
    "d12": {"updated": "12/31/2024", "pages": 9, "section": "science"},
    "d13": {"updated": "03/04/2024", "pages": 10, "section": "news"},
    "d14": {"updated": "2024-06-01 08:00", "pages": 11, "section": "sport"},
    "d15": {"updated": "2023-11-05", "pages": 13, "section": "science"},
    "d16": {"updated": "", "pages": 14, "section": "news"},
    "d17": {"updated": None, "pages": 15, "section": "sport"},
    "d18": {"updated": "1 Feb 2024", "pages": 16, "section": "science"},
    "d19": {"pages": 17, "section": "news"},
}
# the unreadable values, worked out by hand, in corpus order (empty values are missing, not unreadable)
BAD_DATES = [BadValue("d04", "yesterday", NOT_A_DATE), BadValue("d09", "2024-02-30", NO_SUCH_DATE),
             BadValue("d13", "03/04/2024", AMBIGUOUS)]
BAD_NUMBERS = [BadValue("d07", "n/a", "not a number")]


def write_beir(folder: Path, lines: list[dict]) -> Path:
    """A BEIR folder of these corpus lines, with one query labelled on the first document."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "latest news"}) + "\n", encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(f"query-id\tcorpus-id\tscore\nq1\t{lines[0]['_id']}\t1\n",
                                               encoding="utf-8")
    return folder


@pytest.fixture
def dated_folder(tmp_path: Path) -> Path:
    """The BEIR folder of ``NESTED``: each document's fields under a nested ``metadata`` object."""
    return write_beir(tmp_path / "dated", [{"_id": doc_id, "title": f"Title {doc_id}", "text": f"Text of {doc_id}.",
                                            "metadata": nested} for doc_id, nested in NESTED.items()])


def test_a_date_field_with_bad_values_keeps_every_document_and_lists_each_bad_value(dated_folder):
    data = load_beir(dated_folder)
    assert [doc.doc_id for doc in data.documents] == list(NESTED)  # nothing lost
    for doc in data.documents:
        written = NESTED[doc.doc_id].get("updated")
        assert doc.metadata.get("updated") == (written or None)  # flattened; an empty value is no value
        assert "metadata" not in doc.metadata
    updated = {field.name: field for field in summarise_fields(data.documents)}["updated"]
    assert updated.kind == "date"
    assert (updated.present, updated.missing) == (16, 3)
    assert (updated.earliest, updated.latest) == (date(2023, 11, 5), date(2024, 12, 31))
    assert list(updated.bad_values) == BAD_DATES


def test_a_number_field_with_one_bad_value(dated_folder):
    pages = {field.name: field for field in summarise_fields(load_beir(dated_folder).documents)}["pages"]
    assert pages.kind == "number" and (pages.present, pages.missing) == (19, 0)
    assert (pages.low, pages.high) == (1, 1200)  # "1,200" reads as 1200; 3.5 was a JSON number, kept as text
    assert list(pages.bad_values) == BAD_NUMBERS


def test_a_category_field(dated_folder):
    section = {field.name: field for field in summarise_fields(load_beir(dated_folder).documents)}["section"]
    assert (section.kind, section.present, section.distinct) == ("category", 19, 3)
    assert section.examples == ("news", "sport", "science") and section.bad_values == ()
    assert section.described == "19 of 19 documents; 3 values"


def test_the_field_tables(dated_folder):
    fields = metadata_fields(load_beir(dated_folder))
    table = field_table(fields)
    assert list(table.columns) == FIELD_COLUMNS
    assert table[["field", "kind", "coverage", "range or values", "unreadable"]].values.tolist() == [
        ["updated", "date", "16 of 19", "2023-11-05 to 2024-12-31", 3],
        ["pages", "number", "19 of 19", "1 to 1200", 1],
        ["section", "category", "19 of 19", "3 values", 0],
    ]
    assert table["examples"][0] == "2024-01-15, 2024-02-01T09:30:00Z, 16 July 2024, yesterday, July 4, 2024"
    assert [field.name for field in fields_with_unreadable_values(fields)] == ["updated", "pages"]
    rows = unreadable_table(fields[0])
    assert list(rows.columns) == UNREADABLE_COLUMNS
    assert rows.values.tolist() == [[bad.doc_id, bad.value, bad.reason] for bad in BAD_DATES]


def test_no_metadata_gives_no_fields(tmp_path):
    data = load_beir(write_beir(tmp_path / "plain", [{"_id": "a", "title": "", "text": "x"}]))
    assert metadata_fields(data) == [] and field_table([]).empty


def test_nested_metadata_flattening_keeps_top_level_keys_and_nested_values_as_text(tmp_path):
    line = {"_id": "a", "title": "Top title", "text": "Body.", "updated": "2024-01-01",
            "metadata": {"updated": "2023-01-01", "title": "Nested title", "author": {"name": "Ann"},
                         "tags": ["x", "y"], "draft": True, "views": 3, "empty": "", "none": None}}
    other = {"_id": "b", "title": "", "text": "Body.", "metadata": "a string, not an object", "extra": [1, 2]}
    data = load_beir(write_beir(tmp_path / "nested", [line, other]))
    assert dict(data.document("a").metadata) == {
        "updated": "2024-01-01", "metadata.updated": "2023-01-01", "metadata.title": "Nested title",
        "author": '{"name": "Ann"}', "tags": '["x", "y"]', "draft": "True", "views": "3"}
    assert dict(data.document("b").metadata) == {"metadata": "a string, not an object", "extra": "[1, 2]"}


def test_a_saved_copy_reads_back_the_same_fields(tmp_path, dated_folder):
    line = {"_id": "a", "title": "T", "text": "Body.", "updated": "2024-01-01",
            "metadata": {"updated": "2023-01-01", "tags": ["x"], "views": 3}}
    for folder in (dated_folder, write_beir(tmp_path / "nested", [line])):
        result = read_beir(folder)
        again = read_beir(save_dataset(result, tmp_path / "saved")).dataset
        assert [(d.doc_id, dict(d.metadata)) for d in again.documents] == [
            (d.doc_id, dict(d.metadata)) for d in result.dataset.documents]


def test_a_table_column_named_like_a_beir_key_is_saved_under_another_name_not_dropped(tmp_path):
    corpus = TextSource.from_bytes("t.csv", b"id,body,title,team\n1,Some text,A title,it\n")
    mapping = ColumnMapping(text="body", id="id", title=None)  # "title" is left as metadata
    result = read_dataset(LoadSpec(kind="table", name="t", corpus=corpus, mapping=mapping))
    assert dict(result.dataset.document("1").metadata) == {"title": "A title", "team": "it"}
    again = read_beir(save_dataset(result, tmp_path)).dataset.document("1")
    assert again.title == "" and dict(again.metadata) == {"metadata.title": "A title", "team": "it"}


def test_chosen_table_columns_are_the_metadata_and_a_chosen_object_column_is_flattened():
    lines = [{"id": "1", "text": "x", "team": "it", "lang": "en", "metadata": {"updated": "2024-01-01"}}]
    corpus = TextSource.from_bytes("t.jsonl", "".join(json.dumps(line) + "\n" for line in lines).encode())
    mapping = ColumnMapping(text="text", id="id", metadata=("team", "metadata"))
    data = read_dataset(LoadSpec(kind="table", name="t", corpus=corpus, mapping=mapping)).dataset
    assert dict(data.document("1").metadata) == {"team": "it", "updated": "2024-01-01"}


def test_the_engine_side_does_not_import_streamlit():
    check = "import sys, explorer.views.dataset_summary, explorer.signals.fields; print('streamlit' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def run_dataset_page(folder: Path) -> AppTest:
    app = AppTest.from_file(str(DATASET_PAGE), default_timeout=300)
    app.session_state["dataset_choice"] = FOLDER_LABEL
    app.session_state["dataset_path"] = str(folder)
    return app.run()


def frames_with(app: AppTest, columns: list[str]) -> list:
    return [frame.value for frame in app.dataframe if list(frame.value.columns) == columns]


def test_the_data_set_page_lists_the_fields_and_every_unreadable_value(dated_folder):
    app = run_dataset_page(dated_folder)
    assert not app.exception and not app.error
    assert "Metadata fields" in [header.value for header in app.subheader]
    [fields] = frames_with(app, FIELD_COLUMNS)
    assert fields[["field", "kind", "coverage", "range or values"]].values.tolist() == [
        ["updated", "date", "16 of 19", "2023-11-05 to 2024-12-31"], ["pages", "number", "19 of 19", "1 to 1200"],
        ["section", "category", "19 of 19", "3 values"]]
    updated, pages = fields_with_unreadable_values(metadata_fields(load_beir(dated_folder)))
    assert [warning.value for warning in app.warning] == [markdown_literal(unreadable_summary(updated)),
                                                          markdown_literal(unreadable_summary(pages))]
    assert unreadable_summary(updated).startswith("3 value(s) of the date field 'updated' could not be read as a "
                                                  "date. Those documents are kept; they only count as having no "
                                                  "value for this field's signal.")
    assert [e.label for e in app.expander if e.label.startswith("Unreadable")] == [
        markdown_literal("Unreadable values of 'updated' (3)"), markdown_literal("Unreadable values of 'pages' (1)")]
    dates, numbers = frames_with(app, UNREADABLE_COLUMNS)
    assert dates.values.tolist() == [[bad.doc_id, bad.value, bad.reason] for bad in BAD_DATES]
    assert numbers.values.tolist() == [[bad.doc_id, bad.value, bad.reason] for bad in BAD_NUMBERS]
    assert {m.label: m.value for m in app.metric}["Documents"] == "19"


def test_the_data_set_page_says_when_no_document_has_metadata(tmp_path):
    app = run_dataset_page(write_beir(tmp_path / "plain", [{"_id": "a", "title": "", "text": "x"}]))
    assert not app.exception and not app.error
    assert any(caption.value.startswith("No document has metadata") for caption in app.caption)
    assert not frames_with(app, FIELD_COLUMNS) and not app.warning

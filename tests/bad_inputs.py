"""The table of bad inputs: what each one is, and the message the explorer gives for it.

Used by tests/test_loading_problems.py (engine) and tests/test_load_page.py (the page, through AppTest);
docs/data-formats.md lists the same messages for users.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

GOOD_LINE = json.dumps({"id": "d1", "title": "Reset the VPN", "text": "Quit the client and run vpnctl reset."})
GOOD_LINE_2 = json.dumps({"id": "d2", "title": "Guest wifi", "text": "Join NW-Guest and accept the terms."})
GOOD_JSONL = (GOOD_LINE + "\n" + GOOD_LINE_2 + "\n").encode()


@dataclass(frozen=True)
class BadInput:
    name: str
    kind: Literal["table", "text_zip", "lines"]
    corpus: tuple[str, bytes]
    outcome: Literal["fatal", "warning"]
    message: str  # a regular expression the message must match
    queries: tuple[str, bytes] | None = None
    labels: tuple[str, bytes] | None = None
    documents: int | None = None  # documents loaded, for warnings
    max_upload_mb: int = 200
    extra: dict = field(default_factory=dict)  # "delimiter": the delimiter chosen by name (",", "tab"), not sniffed


def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


QUERIES = ("queries.jsonl", b'{"_id": "q1", "text": "reset vpn"}\n')

BAD_INPUTS: list[BadInput] = [
    BadInput("malformed JSON line", "table", ("c.jsonl", GOOD_LINE.encode() + b"\n{broken\n" + GOOD_LINE_2.encode()),
             "warning", r"c\.jsonl line 2: not valid JSON .*skipped", documents=2),
    BadInput("JSON line that is not an object", "table", ("c.jsonl", GOOD_JSONL + b'["a", "list"]\n'), "warning",
             r"c\.jsonl line 3: a JSON list, not an object", documents=2),
    BadInput("record missing the text field", "table", ("c.jsonl", GOOD_JSONL + b'{"id": "d3", "title": "t"}\n'),
             "warning", r"c\.jsonl line 3: no 'text' field; the record was skipped", documents=2),
    BadInput("missing column (no text column to map)", "table", ("c.csv", b"id,name\n1,alpha\n2,beta\n"), "fatal",
             r"c\.csv: no text column could be guessed .*the columns are 'id', 'name'\. Map the columns"
             r".*Text column picker on the page, --text-column on the command line"),
    BadInput("empty file", "table", ("c.jsonl", b""), "fatal", r"the file is empty \(0 bytes\)"),
    BadInput("only blank lines", "lines", ("c.txt", b"\n \n\t\n"), "fatal", r"no documents could be read"),
    BadInput("binary file", "table", ("c.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "fatal",
             r"c\.jsonl: this is not a text file \(a NUL byte at byte 8\)"),
    BadInput("UTF-16 text without a byte-order mark", "lines",
             ("c.txt", "caf\u00e9 menu\nopening hours\n".encode("utf-16-le")), "fatal", r"c\.txt: this is not a text file \(a NUL byte at byte 1\)\..*if it is UTF-16 or UTF-32 text, "
                      r"save it with a byte-order mark or as UTF-8\."),
    BadInput("JSON array instead of JSON lines", "table", ("c.jsonl", b"[" + GOOD_LINE.encode() + b", "
                                                           + GOOD_LINE_2.encode() + b"]\n"), "fatal",
             r"c\.jsonl line 1: the file starts with '\[': this is a JSON array; JSONL holds one JSON object per "
             r"line\. Convert it, e\.g\. with jq -c '\.\[\]' in\.json > out\.jsonl"),
    BadInput("pretty-printed JSON array", "table", ("c.jsonl", b"\n[\n  " + GOOD_LINE.encode() + b",\n  "
                                                    + GOOD_LINE_2.encode() + b"\n]\n"), "fatal",
             r"c\.jsonl line 2: the file starts with '\[': this is a JSON array"),
    BadInput("unterminated JSON string", "table", ("c.jsonl", GOOD_JSONL + b'{"id": "d3", "text": "no end\n'),
             "warning",
             r"c\.jsonl line 3: not valid JSON \(Unterminated string starting at column 22\); the line was skipped",
             documents=2),
    BadInput("every record without an id value", "table",
             ("c.jsonl", b'{"id": "", "text": "a"}\n{"id": "", "text": "b"}\n'),
             "fatal", r"c\.jsonl: no documents could be read\. The first problem\(s\): c\.jsonl line 1: no 'id' \(id\) "
                      r"value; the record was skipped; c\.jsonl line 2: .*Check the format"),
    BadInput("control characters in text", "table", ("c.jsonl", GOOD_JSONL + json.dumps(
        {"id": "d3", "title": "Printer\u0000", "text": "Status: \u001b[31mjammed\u001b[0m"}).encode() + b"\n"
        + json.dumps({"id": "d4", "text": "bell\u0007 and next line\u0085"}).encode() + b"\n"), "warning",
             r"c\.jsonl line 3: 2 document\(s\) held NUL bytes or terminal control characters \(the first on this "
             r"line\); they were removed from the text", documents=4),
    BadInput("control characters in queries", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"q\.tsv line 2: 1 query\(ies\) held NUL bytes or terminal control characters",
             queries=("q.tsv", b"q1\treset vpn\nq2\tguest\x07 wifi\x1b[0m\n"), documents=2),
    BadInput("duplicate ids", "table", ("c.jsonl", GOOD_JSONL + GOOD_LINE.encode() + b"\n"), "warning",
             r"c\.jsonl line 3: document id 'd1' appeared before; this copy was skipped", documents=2),
    BadInput("labels for unknown documents", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"l\.tsv line 2: label for document 'd9', which is not in the corpus", queries=QUERIES,
             labels=("l.tsv", b"q1\t0\td1\t3\nq1\t0\td9\t1\n"), documents=2),
    BadInput("labels for unknown queries", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"l\.tsv line 2: label for query 'q7', which is not in the queries file", queries=QUERIES,
             labels=("l.tsv", b"q1 0 d1 3\nq7 0 d2 1\n"), documents=2),
    BadInput("0-byte queries upload", "table", ("c.jsonl", GOOD_JSONL), "fatal",
             r"queries\.tsv: the file is empty \(0 bytes\)", queries=("queries.tsv", b"")),
    BadInput("huge line", "lines", ("c.txt", b"short document one\n" + b"x" * (9 * 1024 * 1024) + b"\nshort two\n"),
             "warning", r"c\.txt line 2: the line is longer than 8 MB and was skipped", documents=2),
    # The delimiter is sniffed unless chosen: these two are refused only when the comma is chosen by hand.
    BadInput("wrong delimiter (semicolons in a CSV)", "table", ("c.csv", b"id;title;text\n1;a;b\n"), "fatal",
             r"c\.csv line 1: the header is one column, 'id;title;text', which holds semicolons.*Choose the delimiter "
             r"';' \(the Delimiter choice on the page, --delimiter on the command line\)", extra={"delimiter": ","}),
    BadInput("wrong delimiter (tabs in a .csv)", "table", ("c.csv", b"id\ttitle\ttext\n1\ta\tb\n"), "fatal",
             r"which holds tabs: the file is not CSV-delimited\. Choose the delimiter 'tab'", extra={"delimiter": ","}),
    BadInput("semicolon-separated CSV (delimiter sniffed)", "table", ("c.csv", b"id;title;text\n1;a;b\n2;c;d\n"),
             "warning", r"c\.csv: read as semicolon-separated \(';', sniffed from the first lines\), not "
                        r"comma-separated as CSV usually is\. If that is wrong, choose the delimiter: the Delimiter "
                        r"choice on the page, --delimiter on the command line", documents=2),
    BadInput("mixed encodings", "table", ("c.jsonl", GOOD_LINE.encode() + b"\n" + json.dumps(
        {"id": "d2", "title": "Caf\u00e9", "text": "r\u00e9sum\u00e9"}).encode().replace(b"\\u00e9", b"\xe9") + b"\n"),
             "warning", r"c\.jsonl line 2: 3 byte\(s\) are not UTF-8 and were replaced", documents=2),
    BadInput("empty text", "table", ("c.jsonl", GOOD_JSONL + b'{"id": "d3", "title": "", "text": ""}\n'), "warning",
             r"c\.jsonl line 3: document 'd3' has no text; it is kept", documents=3),
    BadInput("grade that is not a number", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"l\.trec line 1: grade 'high' is not a number", queries=QUERIES, labels=("l.trec", b"q1 0 d1 high\n"),
             documents=2),
    BadInput("labels with the wrong number of fields", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"l\.trec line 1: 2 fields; expected 4 \(TREC", queries=QUERIES, labels=("l.trec", b"q1 d1\n"),
             documents=2),
    BadInput("TREC labels line with 3 fields", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"l\.trec line 2: 3 fields; a TREC qrels line has 4: query-id iteration doc-id grade \(line 1 set this "
             r"file's layout\); skipped", queries=QUERIES, labels=("l.trec", b"q1 0 d1 3\nq1 0 d2\n"), documents=2),
    BadInput("BEIR labels line with 4 fields", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"l\.tsv line 3: 4 fields; a BEIR qrels line has 3: query-id corpus-id score \(line 2 set",
             queries=QUERIES, labels=("l.tsv", b"query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\t0\td2\t1\n"), documents=2),
    BadInput("grade that is not a whole number", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"l\.trec line 1: grade 1\.5 is not a whole number; read as 1 \(cut to its whole part, as trec_eval reads",
             queries=QUERIES, labels=("l.trec", b"q1 0 d1 1.5\n"), documents=2),
    BadInput("negative grade", "table", ("c.jsonl", GOOD_JSONL), "warning",
             r"l\.trec line 2: 2 label\(s\) have a negative grade, the first -1 on this line\. They are kept as given "
             r"and count as not relevant", queries=QUERIES, labels=("l.trec", b"q1 0 d1 3\nq1 0 d2 -1\nq1 0 d1 -2\n"),
             documents=2),
    BadInput("upload over the size limit", "table", ("c.jsonl", GOOD_JSONL * 9000), "fatal",
             r"c\.jsonl: the file is 1 MB, over the 1 MB upload limit", max_upload_mb=1),
    BadInput("unknown table format", "table", ("c.xlsx", b"PK\x03\x04 not really"), "fatal",
             r"c\.xlsx: unknown table format"),
    BadInput("zip with no text files", "text_zip", ("c.zip", _zip({"image.png": b"\x89PNG"})), "fatal",
             r"c\.zip: the zip holds no \.txt or \.md files"),
    BadInput("corrupt zip", "text_zip", ("c.zip", b"this is not a zip"), "fatal", r"c\.zip: not a readable zip file"),
    BadInput("corrupt Parquet", "table", ("c.parquet", b"not parquet at all"), "fatal",
             r"c\.parquet: not a readable Parquet file"),
    BadInput("CSV row with the wrong number of fields", "table",
             ("c.csv", b"id,title,text\n1,a,first\n2,b,second,extra\n3,c,third\n"), "warning",
             r"c\.csv line 3: 4 fields where the header has 3; skipped", documents=2),
    BadInput("every line malformed", "table", ("c.jsonl", b"{bad\n{worse\n"), "fatal",
             r"c\.jsonl: found no columns: the first lines hold no JSON object"),
]

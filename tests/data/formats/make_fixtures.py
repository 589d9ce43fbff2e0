"""Writes the small real files of every supported format used by tests/test_loading_formats.py.

Run from this folder: python make_fixtures.py. The outputs are committed; this script documents them.
"""

import csv
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DOCS = [
    ("printer-01", "Adding the third-floor printer", "Open Settings, choose Printers, add PRN-3F-EAST by name. "
     "The driver installs itself; if it asks for a PIN, use your badge number.", "it-desk", "2025-02-03"),
    ("wifi-02", "Guest wifi for visitors", "Visitors join NW-Guest and accept the terms page. Passwords rotate "
     "every Monday & are posted at reception, not in email.", "it-desk", "2025-01-20"),
    ("vpn-03", "VPN client drops after sleep", "Quit the client before closing the lid, or turn on "
     "'reconnect after resume' in Preferences > Network.", "network", "2024-11-02"),
    ("badge-04", "Replacing a lost badge", "Report the loss to security@example.invalid <within 24 hours>; "
     "a new badge is printed at the front desk the next working day.", "security", "2025-03-11"),
    ("laptop-05", "Laptop refresh schedule", "Laptops are replaced every four years. Engineers may ask for an "
     "early refresh when builds take longer than 15 minutes.", "it-desk", "2024-09-30"),
    ("monitor-06", "Requesting a second monitor", "Ask through the hardware form; 27-inch monitors ship "
     "within a week. Standing desks use a different form.", "facilities", "2025-04-07"),
]
QUERIES = [("q1", "how do I add the printer on floor three"), ("q2", "vpn disconnects when laptop wakes up"),
           ("q3", "lost my badge what now")]
LABELS = [("q1", "printer-01", 3), ("q1", "monitor-06", 0), ("q2", "vpn-03", 3), ("q2", "wifi-02", 1),
          ("q3", "badge-04", 3)]


def main() -> None:
    with open(HERE / "corpus.jsonl", "w", encoding="utf-8") as out:
        for doc_id, title, text, team, date in DOCS:
            out.write(json.dumps({"id": doc_id, "title": title, "body": text, "team": team, "date": date}) + "\n")
    for name, delimiter in (("corpus.csv", ","), ("corpus.tsv", "\t")):
        with open(HERE / name, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=delimiter)
            writer.writerow(["doc_id", "title", "text", "team", "date"])
            writer.writerows(DOCS)
    columns = list(zip(*DOCS))
    table = pa.table({"doc_id": columns[0], "title": columns[1], "content": columns[2], "team": columns[3],
                      "date": columns[4]})
    pq.write_table(table, HERE / "corpus.parquet")
    notes = HERE / "notes"
    (notes / "hardware").mkdir(parents=True, exist_ok=True)
    for doc_id, title, text, _, _ in DOCS:
        folder = notes / "hardware" if doc_id.startswith(("laptop", "monitor", "printer")) else notes
        suffix = ".md" if doc_id.startswith(("vpn", "laptop")) else ".txt"
        heading = f"# {title}" if suffix == ".md" else title
        (folder / f"{doc_id}{suffix}").write_text(f"{heading}\n\n{text}\n", encoding="utf-8")
    with zipfile.ZipFile(HERE / "notes.zip", "w") as archive:
        for path in sorted(notes.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(notes).as_posix())
    (HERE / "lines.txt").write_text("".join(f"{title}: {text}\n\n" for _, title, text, _, _ in DOCS), encoding="utf-8")
    with open(HERE / "queries.jsonl", "w", encoding="utf-8") as out:
        for query_id, text in QUERIES:
            out.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    (HERE / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in QUERIES), encoding="utf-8")
    (HERE / "queries.csv").write_text("id,text\n" + "".join(f'{q},"{t}"\n' for q, t in QUERIES), encoding="utf-8")
    (HERE / "labels.trec").write_text("".join(f"{q} 0 {d} {g}\n" for q, d, g in LABELS), encoding="utf-8")
    (HERE / "labels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{g}\n" for q, d, g in LABELS),
                                     encoding="utf-8")
    write_delimiter_and_encoding_fixtures()
    irds = HERE / "irds_cranfield"
    irds.mkdir(exist_ok=True)
    (irds / "docs.txt").write_text("".join(
        f".I {i}\n.T\n{title.lower()}\n.A\nit desk\n.B\nhandbook\n.W\n{text.lower()}\n"
        for i, (_, title, text, _, _) in enumerate(DOCS, start=1)), encoding="utf-8")
    (irds / "queries.txt").write_text("".join(f".I {i:03d}\n.W\n{t}\n" for i, (_, t) in enumerate(QUERIES, start=1)),
                                      encoding="utf-8")
    (irds / "qrels.txt").write_text("1 1 4\n1 6 1\n2 3 4\n3 4 4\n", encoding="utf-8")


def write_delimiter_and_encoding_fixtures() -> None:
    """A CSV as a spreadsheet in a comma-decimal locale saves it (semicolons), and queries as Excel's "Unicode text"
    saves them (UTF-16 LE with a byte-order mark, tab-separated)."""
    with open(HERE / "corpus_semicolon.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["doc_id", "title", "text", "team", "date"])
        writer.writerows(DOCS)
    (HERE / "queries_utf16.tsv").write_bytes("".join(f"{q}\t{t}\r\n" for q, t in QUERIES).encode("utf-16"))


if __name__ == "__main__":
    main()

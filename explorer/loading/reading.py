"""Streaming text reads: line by line from a path or an uploaded file, never the whole file at once.

UTF-8 is read without a byte-order mark or with one; UTF-16 and UTF-32 need their byte-order mark (BOM), which
says the encoding and the byte order. Bytes that cannot be decoded become replacement characters, counted in a
warning. A file with NUL bytes in its first block and no BOM is refused as binary; an empty file is refused; a
line longer than the limit is skipped.
"""

from __future__ import annotations

import codecs
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from explorer.loading.problems import ProblemLog

MAX_LINE_BYTES = 8 * 1024 * 1024
SNIFF_BYTES = 8192
PROGRESS_EVERY = 5000  # lines
# The UTF-32 marks first: the UTF-32 LE mark begins with the UTF-16 LE one.
BOM_ENCODINGS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                 (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Bytes per code unit, to turn the line limit in bytes into one in characters for UTF-16 and UTF-32.
CODE_UNIT_BYTES = {"utf-16": 2, "utf-32": 4}
JSON_ARRAY_FIX = ("this is a JSON array; JSONL holds one JSON object per line. Convert it, e.g. with "
                  "jq -c '.[]' in.json > out.jsonl, and load the .jsonl file.")


@dataclass(frozen=True)
class TextSource:
    """A file to read: a path on this machine, or an uploaded file's bytes (held once, by Streamlit)."""

    name: str
    path: Path | None = None
    stream: BinaryIO | None = None
    size: int | None = None

    @classmethod
    def from_path(cls, path: str | Path) -> "TextSource":
        """A source for the file at ``path`` (``~`` expanded), named after the file."""
        path = Path(path).expanduser()
        return cls(name=path.name, path=path)

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> "TextSource":
        """A source for uploaded ``data``, held in memory under ``name``."""
        return cls(name=name, stream=io.BytesIO(data), size=len(data))

    def total_bytes(self) -> int:
        """The size in bytes, for progress; 0 when the path is not a file."""
        if self.size is not None:
            return self.size
        return self.path.stat().st_size if self.path is not None and self.path.is_file() else 0

    def open(self, log: ProblemLog) -> BinaryIO:
        """A binary handle at the start of the data: the uploaded stream, rewound (not to be closed), or the file
        newly opened. Raises DataLoadError when there is no file at the path."""
        if self.stream is not None:
            self.stream.seek(0)
            return self.stream
        if self.path is None or not self.path.is_file():
            raise log.fatal(self.name, None, f"no file at {self.path}. Check the path.")
        return self.path.open("rb")


def text_encoding(head: bytes, name: str, log: ProblemLog) -> str:
    """The codec for a text file whose first bytes are ``head``: "utf-8", or the one its byte-order mark names
    ("utf-8-sig", "utf-16", "utf-32"). Raises DataLoadError when ``head`` is empty, or holds a NUL byte without a
    byte-order mark (a binary file, or UTF-16/32 text that does not say its byte order)."""
    if not head:
        raise log.fatal(name, None, "the file is empty (0 bytes). Choose the file that holds the data.")
    encoding = next((codec for bom, codec in BOM_ENCODINGS if head.startswith(bom)), "utf-8")
    nul = head.find(b"\x00")
    if nul >= 0 and encoding.startswith("utf-8"):
        raise log.fatal(name, None, f"this is not a text file (a NUL byte at byte {nul}). Upload UTF-8 text: JSONL, "
                                    "CSV/TSV, .txt or .md, or use the Parquet option; if it is UTF-16 or UTF-32 text, "
                                    "save it with a byte-order mark or as UTF-8.")
    return encoding


def decode(raw: bytes, name: str, line_no: int | None, log: ProblemLog, encoding: str = "utf-8") -> str:
    """``raw`` as text in ``encoding`` (a byte-order mark at its start dropped); bytes that cannot be decoded
    become replacement characters, with a warning."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        text = raw.decode(encoding, errors="replace")
        if encoding.startswith("utf-8"):
            # a replacement character written in the file itself is text, not a decoding failure
            bad = text.count("\ufffd") - raw.count("\ufffd".encode())
            log.warn("non-UTF-8 bytes", name, line_no,
                     f"{max(bad, 1)} byte(s) are not UTF-8 and were replaced with \ufffd. Save the file as UTF-8.")
            return text
        return _note_replacements(text, encoding, name, line_no, log)


def _note_replacements(text: str, encoding: str, name: str, line_no: int | None, log: ProblemLog) -> str:
    """``text`` as decoded from UTF-16/32 with replacement, with a warning when it holds replacement characters."""
    replaced = text.count("\ufffd")
    if replaced:
        log.warn("undecodable bytes", name, line_no,
                 f"{replaced} character(s) could not be read as {encoding.upper()} and were replaced with \ufffd. "
                 "Save the file as UTF-8.")
    return text


def iter_lines(source: TextSource, log: ProblemLog, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """(line number, text without the line break) for every line, starting at 1."""
    handle = source.open(log)
    wide = None
    try:
        encoding = text_encoding(handle.read(SNIFF_BYTES), source.name, log)
        handle.seek(0)
        if encoding in CODE_UNIT_BYTES:
            # The codec reads the byte-order mark and decodes as the lines are read; the line limit is in characters.
            wide = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="\n")
            lines = _numbered_lines(wide.readline, "\n", max_line_bytes, CODE_UNIT_BYTES[encoding], source, log,
                                    handle.tell)
            for line_no, text in lines:
                yield line_no, _note_replacements(text, encoding, source.name, line_no, log).rstrip("\r\n")
        else:
            for line_no, raw in _numbered_lines(handle.readline, b"\n", max_line_bytes, 1, source, log, handle.tell):
                yield line_no, decode(raw, source.name, line_no, log, encoding).rstrip("\r\n")
    finally:
        if wide is not None:
            wide.detach()  # the wrapper would close the handle, and an uploaded stream is not ours to close
        if source.stream is None:
            handle.close()


def _numbered_lines(readline: Callable, newline: bytes | str, max_line_bytes: int, unit_bytes: int, source: TextSource,
                    log: ProblemLog, position: Callable[[], int]) -> Iterator[tuple[int, bytes | str]]:
    """(line number, line with its break) from ``readline``, which counts in units of ``unit_bytes`` bytes; a line
    over ``max_line_bytes`` is skipped with a warning."""
    limit = max_line_bytes // unit_bytes
    line_no = 0
    total = source.total_bytes()
    while True:
        if log.progress is not None and line_no % PROGRESS_EVERY == 0:
            log.progress(position(), total)
        raw = readline(limit + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > limit and not raw.endswith(newline):
            log.warn("line too long", source.name, line_no,
                     f"the line is longer than {max_line_bytes // (1024 * 1024)} MB and was skipped. "
                     "Split very long records, or check that the file has line breaks.")
            while raw and not raw.endswith(newline):
                raw = readline(limit + 1)
            continue
        yield line_no, raw


def iter_json_objects(source: TextSource, log: ProblemLog) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every JSON-object line; other lines are warned about and skipped.

    Raises DataLoadError when the file is one JSON array rather than JSON lines."""
    first = True
    for line_no, line in iter_lines(source, log):
        if not line.strip():
            continue
        if first and line.lstrip().startswith("["):
            raise log.fatal(source.name, line_no, f"the file starts with '[': {JSON_ARRAY_FIX}")
        first = False
        try:
            # strict=False keeps a record whose strings hold raw control characters; the builder removes them
            record = json.loads(line, strict=False)
        except json.JSONDecodeError as exc:
            log.warn("malformed JSON", source.name, line_no,
                     f"not valid JSON ({json_problem(exc)}); the line was skipped.")
            continue
        if not isinstance(record, dict):
            log.warn("malformed JSON", source.name, line_no,
                     f"a JSON {type(record).__name__}, not an object; the line was skipped. One object per line.")
            continue
        yield line_no, record


def json_problem(exc: json.JSONDecodeError) -> str:
    """What ``exc`` says and where, e.g. "Unterminated string starting at column 24".

    Some of json's messages end in "at", written to be followed by ": line 1 column 24 (char 23)"; the word is not
    doubled here."""
    return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"

"""Streaming text reads: line by line from a path or an uploaded file, never the whole file at once.

Bytes that are not UTF-8 are decoded with replacement characters and counted. A file with NUL bytes in
its first block is refused as binary; an empty file is refused; a line longer than the limit is skipped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from explorer.loading.problems import ProblemLog

MAX_LINE_BYTES = 8 * 1024 * 1024
SNIFF_BYTES = 8192
PROGRESS_EVERY = 5000  # lines


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


def check_not_binary_or_empty(head: bytes, name: str, log: ProblemLog) -> None:
    """Raises DataLoadError when ``head`` (a file's first bytes) is empty or holds a NUL byte."""
    if not head:
        raise log.fatal(name, None, "the file is empty (0 bytes). Choose the file that holds the data.")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise log.fatal(name, None, f"this is not a text file (a NUL byte at byte {nul}). "
                                    "Upload UTF-8 text: JSONL, CSV/TSV, .txt or .md, or use the Parquet option.")


def decode(raw: bytes, name: str, line_no: int, log: ProblemLog) -> str:
    """``raw`` as UTF-8 text; bytes that are not UTF-8 become replacement characters, with a warning."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        bad = text.count("\ufffd") - raw.count("\ufffd".encode())
        log.warn("non-UTF-8 bytes", name, line_no,
                 f"{max(bad, 1)} byte(s) are not UTF-8 and were replaced with \ufffd. Save the file as UTF-8.")
        return text


def iter_lines(source: TextSource, log: ProblemLog, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """(line number, text without the line break) for every line, starting at 1."""
    handle = source.open(log)
    try:
        head = handle.read(SNIFF_BYTES)
        check_not_binary_or_empty(head, source.name, log)
        handle.seek(0)
        line_no = 0
        total = source.total_bytes()
        while True:
            if log.progress is not None and line_no % PROGRESS_EVERY == 0:
                log.progress(handle.tell(), total)
            raw = handle.readline(max_line_bytes + 1)
            if not raw:
                break
            line_no += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                log.warn("line too long", source.name, line_no,
                         f"the line is longer than {max_line_bytes // (1024 * 1024)} MB and was skipped. "
                         "Split very long records, or check that the file has line breaks.")
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(max_line_bytes + 1)
                continue
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            yield line_no, decode(raw, source.name, line_no, log).rstrip("\r\n")
    finally:
        if source.stream is None:
            handle.close()


def iter_json_objects(source: TextSource, log: ProblemLog) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every JSON-object line; other lines are warned about and skipped."""
    import json

    for line_no, line in iter_lines(source, log):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            log.warn("malformed JSON", source.name, line_no,
                     f"not valid JSON ({exc.msg} at column {exc.colno}); the line was skipped.")
            continue
        if not isinstance(record, dict):
            log.warn("malformed JSON", source.name, line_no,
                     f"a JSON {type(record).__name__}, not an object; the line was skipped. One object per line.")
            continue
        yield line_no, record

"""Documents from a folder or a zip of .txt / .md files: the file name is the id, the first heading or line the title."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator

from explorer.errors import DataLoadError
from explorer.loading.assemble import DocRecord
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import TextSource, check_not_binary_or_empty, decode
from explorer.records import Document

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
# A zip may expand to at most this many times the upload limit (guards against zip bombs).
MAX_EXPANSION = 5


def split_title(content: str) -> tuple[str, str]:
    """First non-empty line as the title (without Markdown '#' marks), the rest as the text."""
    lines = content.splitlines()
    for index, line in enumerate(lines):
        if line.strip():
            title = line.strip().lstrip("#").strip()
            body = "\n".join(lines[index + 1:]).strip()
            return title, body or title
    return "", ""


def _doc_id(relative: PurePosixPath) -> str:
    return str(relative.with_suffix(""))


def iter_folder_documents(folder: Path, log: ProblemLog) -> Iterator[DocRecord]:
    """A document per .txt or .md file under ``folder`` (sub-folders too, hidden ones skipped), in path order.

    Other files are skipped with a warning. Raises DataLoadError when the folder is missing or has no text file."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise log.fatal(str(folder), None, "no such folder. Give the folder that holds the .txt or .md files.")
    found = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if path.suffix.lower() not in TEXT_SUFFIXES:
            log.warn("skipped file", str(relative), None, "not a .txt or .md file; skipped.")
            continue
        raw = path.read_bytes()
        record = _record(str(relative), raw, log, modified=path.stat().st_mtime)
        if record is not None:
            found += 1
            yield record
    if not found:
        raise log.fatal(str(folder), None, "no .txt or .md files found (sub-folders included).")


def iter_zip_documents(source: TextSource, log: ProblemLog, max_bytes: int) -> Iterator[DocRecord]:
    """A document per .txt or .md file in the zip, in name order, as for a folder.

    Raises DataLoadError when it is not a zip, holds no text file, or expands past ``MAX_EXPANSION`` x ``max_bytes``."""
    handle = source.open(log)
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as exc:
        raise log.fatal(source.name, None, f"not a readable zip file ({exc}). Choose the format that matches.") from exc
    with archive:
        members = [m for m in archive.infolist()
                   if not m.is_dir() and not any(p.startswith((".", "__MACOSX")) for p in PurePosixPath(m.filename).parts)]
        total = sum(m.file_size for m in members)
        if total > max_bytes * MAX_EXPANSION:
            raise log.fatal(source.name, None, f"the zip expands to {total / 1e6:,.0f} MB, over the "
                                               f"{max_bytes * MAX_EXPANSION / 1e6:,.0f} MB allowed. Split it into smaller zips.")
        found = 0
        for member in sorted(members, key=lambda m: m.filename):
            relative = PurePosixPath(member.filename)
            if relative.suffix.lower() not in TEXT_SUFFIXES:
                log.warn("skipped file", f"{source.name}:{member.filename}", None, "not a .txt or .md file; skipped.")
                continue
            modified = dt.datetime(*member.date_time).timestamp()
            record = _record(f"{source.name}:{member.filename}", archive.read(member), log, modified, relative)
            if record is not None:
                found += 1
                yield record
    if not found:
        raise log.fatal(source.name, None, "the zip holds no .txt or .md files.")


def _record(name: str, raw: bytes, log: ProblemLog, modified: float,
            relative: PurePosixPath | None = None) -> DocRecord | None:
    if not raw:
        log.warn("empty text", name, None, "the file is empty; skipped.")
        return None
    try:
        check_not_binary_or_empty(raw[:8192], name, log)
    except DataLoadError:  # a binary file among text files is a warning, not the end of the load
        log.warn("binary file", name, None, "not a text file (it holds NUL bytes); skipped.")
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    title, text = split_title(decode(raw, name, 1, log))
    relative = relative or PurePosixPath(name)
    date = dt.datetime.fromtimestamp(modified, tz=dt.timezone.utc).date().isoformat()
    metadata = {"source": str(relative), "modified": date}
    return DocRecord(name, None, Document(doc_id=_doc_id(relative), title=title, text=text, metadata=metadata))

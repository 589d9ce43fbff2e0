"""Documents from a folder or a zip of .txt / .md files: the file name is the id, the first heading or line the title."""

from __future__ import annotations

import datetime as dt
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

from explorer.errors import DataLoadError
from explorer.loading.assemble import DocRecord
from explorer.loading.paths import LINK_OUTSIDE, is_readable
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import SNIFF_BYTES, TextSource, decode, text_encoding
from explorer.loading.zip_files import check_expansion, check_ratio, open_zip, read_member, safe_members
from explorer.records import Document

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
# One text file may hold at most this much (EXPLORER_MAX_DOCUMENT_MB): past it, it is no document to search,
# and its saved line would be over the line limit the data set's own reader keeps.
DEFAULT_MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


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


def _too_large(name: str, size: int, limit: int, log: ProblemLog) -> DataLoadError:
    return log.fatal(name, None, f"this file holds {size / 1024 / 1024:,.1f} MB of text, over the "
                                 f"{limit / 1024 / 1024:,.0f} MB one document may hold. Split it into files of a "
                                 "few pages each, or raise EXPLORER_MAX_DOCUMENT_MB.")


def iter_folder_documents(folder: Path, log: ProblemLog, max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
                          readable_roots: Sequence[Path] | None = None) -> Iterator[DocRecord]:
    """A document per .txt or .md file under ``folder`` (sub-folders too, hidden ones skipped), in path order.

    Other files are skipped with a warning, and so are symbolic links that lead outside ``readable_roots`` (None:
    anywhere, the command line); links to folders are not followed. Raises DataLoadError when the folder is missing
    or has no text file."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise log.fatal(str(folder), None, "no such folder. Give the folder that holds the .txt or .md files.")
    found = 0
    for path in sorted(folder.rglob("*")):  # rglob lists a linked folder but does not go into it
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if path.is_symlink() and not is_readable(path, readable_roots):
            log.warn("link outside", str(relative), None, LINK_OUTSIDE)
            continue
        if not path.is_file():
            continue
        if path.suffix.lower() not in TEXT_SUFFIXES:
            log.warn("skipped file", str(relative), None, "not a .txt or .md file; skipped.")
            continue
        size = path.stat().st_size
        if size > max_document_bytes:
            raise _too_large(str(relative), size, max_document_bytes, log)
        raw = path.read_bytes()
        record = _record(str(relative), raw, log, modified=path.stat().st_mtime)
        if record is not None:
            found += 1
            yield record
    if not found:
        raise log.fatal(str(folder), None, "no .txt or .md files found (sub-folders included).")


def iter_zip_documents(source: TextSource, log: ProblemLog, max_bytes: int,
                       max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES) -> Iterator[DocRecord]:
    """A document per .txt or .md file in the zip, in name order, as for a folder.

    Raises DataLoadError when it is not a zip, holds no text file, expands past ``MAX_EXPANSION`` x ``max_bytes``
    in all, or holds a text file over ``max_document_bytes`` or compressed past ``MAX_COMPRESSION_RATIO`` to 1.
    The zip is read as ``explorer.loading.zip_files`` reads every zip (unsafe member paths skipped, members read
    through a bounded reader)."""
    with open_zip(source, log) as archive:
        members = safe_members(archive, source.name, log)
        check_expansion(members, source.name, max_bytes, log)
        found = 0
        for member in members:
            relative = PurePosixPath(member.filename)
            if relative.suffix.lower() not in TEXT_SUFFIXES:
                log.warn("skipped file", f"{source.name}:{member.filename}", None, "not a .txt or .md file; skipped.")
                continue
            name = f"{source.name}:{member.filename}"
            if member.file_size > max_document_bytes:
                raise _too_large(name, member.file_size, max_document_bytes, log)
            check_ratio(member, name, log)
            modified = dt.datetime(*member.date_time).timestamp()
            raw = read_member(archive, member, max_document_bytes,
                              lambda size, name=name: _too_large(name, size, max_document_bytes, log))
            record = _record(name, raw, log, modified, relative)
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
        encoding = text_encoding(raw[:SNIFF_BYTES], name, log)
    except DataLoadError:  # a binary file among text files is a warning, not the end of the load
        log.warn("binary file", name, None, "not a text file (it holds NUL bytes); skipped. If it is UTF-16 or "
                                            "UTF-32 text, save it with a byte-order mark or as UTF-8.")
        return None
    title, text = split_title(decode(raw, name, 1, log, encoding))
    relative = relative or PurePosixPath(name)
    date = dt.datetime.fromtimestamp(modified, tz=dt.timezone.utc).date().isoformat()
    metadata = {"source": str(relative), "modified": date}
    return DocRecord(name, None, Document(doc_id=_doc_id(relative), title=title, text=text, metadata=metadata))

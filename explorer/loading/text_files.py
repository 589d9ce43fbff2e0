"""Documents from a folder or a zip of .txt / .md files: the file name is the id, the first heading or line the title."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

from explorer.errors import DataLoadError
from explorer.loading.assemble import DocRecord
from explorer.loading.paths import LINK_OUTSIDE, is_readable
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import SNIFF_BYTES, TextSource, decode, text_encoding
from explorer.records import Document

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
# A zip may expand to at most this many times the upload limit (guards against zip bombs).
MAX_EXPANSION = 5
# One text file may hold at most this much (EXPLORER_MAX_DOCUMENT_MB): past it, it is no document to search,
# and its saved line would be over the line limit the data set's own reader keeps.
DEFAULT_MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
# Text compresses about 3-10 to 1; a member compressed far more than this is refused as a likely zip bomb.
MAX_COMPRESSION_RATIO = 100
_DRIVE = re.compile(r"^[A-Za-z]:")


def split_title(content: str) -> tuple[str, str]:
    """First non-empty line as the title (without Markdown '#' marks), the rest as the text."""
    lines = content.splitlines()
    for index, line in enumerate(lines):
        if line.strip():
            title = line.strip().lstrip("#").strip()
            body = "\n".join(lines[index + 1:]).strip()
            return title, body or title
    return "", ""


def leaves_the_folder(name: str) -> bool:
    """Whether the zip member ``name`` would be written outside the folder it is unpacked in: it climbs with
    ``..``, starts at the root, or names a Windows drive (backslashes read as separators, as unzip tools read them)."""
    path = name.replace("\\", "/")
    return path.startswith("/") or ".." in PurePosixPath(path).parts or bool(_DRIVE.match(path))


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
    Members are read through a bounded reader, so a size the zip's directory understates is caught too."""
    handle = source.open(log)
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as exc:
        raise log.fatal(source.name, None, f"not a readable zip file ({exc}). Choose the format that matches.") from exc
    with archive:
        members = []
        for member in archive.infolist():
            if member.is_dir():
                continue
            if leaves_the_folder(member.filename):
                log.warn("unsafe path", f"{source.name}:{member.filename}", None,
                         "its path leads outside the zip's folder (through '..', or from the root or a drive), as "
                         "in a path-traversal attack; skipped, not read. Zip the files with paths inside one folder.")
                continue
            if not any(part.startswith((".", "__MACOSX")) for part in PurePosixPath(member.filename).parts):
                members.append(member)
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
            name = f"{source.name}:{member.filename}"
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > max_document_bytes:
                raise _too_large(name, member.file_size, max_document_bytes, log)
            if ratio > MAX_COMPRESSION_RATIO and member.file_size > 1024 * 1024:
                raise log.fatal(name, None, f"this file is compressed {ratio:,.0f} to 1 ({member.file_size / 1e6:,.0f} "
                                            "MB from a few KB): that is how zip bombs look, not text. Zip the text "
                                            "files themselves.")
            modified = dt.datetime(*member.date_time).timestamp()
            with archive.open(member) as stream:
                raw = stream.read(max_document_bytes + 1)
            if len(raw) > max_document_bytes:  # the directory said less than the member holds
                raise _too_large(name, len(raw), max_document_bytes, log)
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

"""Reading an uploaded zip safely, for every format that comes zipped (a zip of text files, a zipped BEIR folder).

A member whose path would lead out of the zip's folder is skipped with a note; hidden files and macOS's __MACOSX
copies are left out; the zip may expand to at most ``MAX_EXPANSION`` times the upload limit, and a large member
compressed past ``MAX_COMPRESSION_RATIO`` to 1 is refused as a likely zip bomb. Members are read through a bounded
reader, so a size the zip's directory understates is caught too.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable

from explorer.errors import DataLoadError
from explorer.loading.problems import ProblemLog
from explorer.loading.reading import TextSource

# A zip may expand to at most this many times the upload limit (guards against zip bombs).
MAX_EXPANSION = 5
# Text compresses about 3-10 to 1; a member compressed far more than this is refused as a likely zip bomb.
MAX_COMPRESSION_RATIO = 100
# Members this small are not held to the ratio: a short, repetitive file compresses well and harms no one.
RATIO_CHECKED_FROM_BYTES = 1024 * 1024
COPY_CHUNK_BYTES = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


def leaves_the_folder(name: str) -> bool:
    """Whether the zip member ``name`` would be written outside the folder it is unpacked in: it climbs with
    ``..``, starts at the root, or names a Windows drive (backslashes read as separators, as unzip tools read them)."""
    path = name.replace("\\", "/")
    return path.startswith("/") or ".." in PurePosixPath(path).parts or bool(_DRIVE.match(path))


def member_path(member: zipfile.ZipInfo) -> PurePosixPath:
    """The member's path inside the zip, backslashes (written by some Windows tools) read as separators."""
    return PurePosixPath(member.filename.replace("\\", "/"))


def open_zip(source: TextSource, log: ProblemLog) -> zipfile.ZipFile:
    """The zip in ``source``; DataLoadError when it is not one."""
    handle = source.open(log)  # says so when there is no file at the path
    if source.stream is None:
        handle.close()  # a zip opened from its path is closed with it
    try:
        return zipfile.ZipFile(handle if source.stream is not None else source.path)
    except zipfile.BadZipFile as exc:
        raise log.fatal(source.name, None, f"not a readable zip file ({exc}). Choose the format that matches.") from exc


def safe_members(archive: zipfile.ZipFile, zip_name: str, log: ProblemLog) -> list[zipfile.ZipInfo]:
    """The files of ``archive`` that may be read, in name order: not folders, not hidden, not __MACOSX copies, and
    none whose path leads out of the zip's folder (each of those skipped with an "unsafe path" note)."""
    members = []
    for member in archive.infolist():
        if member.is_dir():
            continue
        if leaves_the_folder(member.filename):
            log.warn("unsafe path", f"{zip_name}:{member.filename}", None,
                     "its path leads outside the zip's folder (through '..', or from the root or a drive), as "
                     "in a path-traversal attack; skipped, not read. Zip the files with paths inside one folder.")
            continue
        if not any(part.startswith((".", "__MACOSX")) for part in member_path(member).parts):
            members.append(member)
    return sorted(members, key=lambda m: m.filename)


def check_expansion(members: list[zipfile.ZipInfo], zip_name: str, max_bytes: int, log: ProblemLog) -> None:
    """DataLoadError when ``members`` say they expand past ``MAX_EXPANSION`` x ``max_bytes`` in all."""
    total = sum(m.file_size for m in members)
    if total > max_bytes * MAX_EXPANSION:
        raise log.fatal(zip_name, None, f"the zip expands to {total / 1e6:,.0f} MB, over the "
                                        f"{max_bytes * MAX_EXPANSION / 1e6:,.0f} MB allowed. Split it into smaller "
                                        "zips.")


def check_ratio(member: zipfile.ZipInfo, name: str, log: ProblemLog) -> None:
    """DataLoadError when a large member is compressed past ``MAX_COMPRESSION_RATIO`` to 1 (a likely zip bomb)."""
    ratio = member.file_size / max(member.compress_size, 1)
    if ratio > MAX_COMPRESSION_RATIO and member.file_size > RATIO_CHECKED_FROM_BYTES:
        raise log.fatal(name, None, f"this file is compressed {ratio:,.0f} to 1 ({member.file_size / 1e6:,.0f} "
                                    "MB from a few KB): that is how zip bombs look, not text. Zip the text "
                                    "files themselves.")


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int,
                too_large: Callable[[int], DataLoadError]) -> bytes:
    """The member's bytes, read no further than ``limit`` + 1: past ``limit``, ``too_large(bytes read)`` is raised
    (the directory may understate what a member holds)."""
    with archive.open(member) as stream:
        raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise too_large(len(raw))
    return raw


def extract_members(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], under: PurePosixPath, folder: Path,
                    zip_name: str, max_bytes: int, log: ProblemLog) -> None:
    """Writes the ``members`` found under ``under`` (a folder inside the zip; "." for all) into ``folder``, at their
    paths relative to it, as plain files (a zip's links are written as files too, never followed). Expansion and
    ratio are checked first, and the bytes written are counted: past ``MAX_EXPANSION`` x ``max_bytes`` in all,
    DataLoadError. Give ``members`` from ``safe_members``: their paths stay inside ``folder``."""
    chosen = [m for m in members if member_path(m).is_relative_to(under)]
    check_expansion(chosen, zip_name, max_bytes, log)
    allowance = max_bytes * MAX_EXPANSION
    for member in chosen:
        check_ratio(member, f"{zip_name}:{member.filename}", log)
        target = folder.joinpath(*member_path(member).relative_to(under).parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            out = target.open("wb")
        except OSError as exc:  # e.g. a file and a folder of the same name, or a name this system cannot hold
            raise log.fatal(f"{zip_name}:{member.filename}", None,
                            f"could not be unpacked ({exc.strerror}). Zip the folder again with the zip tool of your "
                            "system.") from exc
        with archive.open(member) as stream, out:
            while chunk := stream.read(min(COPY_CHUNK_BYTES, allowance + 1)):
                allowance -= len(chunk)
                if allowance < 0:  # the directory said less than the members hold
                    most = max_bytes * MAX_EXPANSION / 1e6
                    raise log.fatal(zip_name, None, f"the zip expands to more than {most:,.0f} MB, the most allowed. "
                                                    "Split it into smaller zips.")
                out.write(chunk)

"""Which folders a shared server may read: a path typed into a page is read only under them.

Whoever can open the page can type a path, so the pages pass the server's readable folders with every load
(``LoadSpec.readable_roots``); the command line, run by the machine's own user, passes none and reads anything
that user can. Paths are compared with their symbolic links resolved, and so are the files a load finds inside a
folder: a link in an allowed folder that leads elsewhere is skipped, with a note (``LINK_OUTSIDE``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from explorer.errors import DataLoadError


def check_readable(path: str | Path, roots: Sequence[Path]) -> Path:
    """``path`` resolved (links followed, ``~`` expanded) when it lies under one of ``roots``; else DataLoadError
    naming the readable folders and the setting that adds one."""
    resolved = Path(path).expanduser().resolve()
    for root in roots:
        if resolved.is_relative_to(Path(root).expanduser().resolve()):
            return resolved
    raise DataLoadError(
        f"{path}: this server reads files only under its data folders. Upload it instead (a folder as a zip), or "
        f"have whoever runs the server set EXPLORER_DATA_DIRS to a folder holding it (the server's data folders "
        f"now: {listed_folders(roots)}; EXPLORER_DATA_DIRS may name several, separated by '{os.pathsep}').")


def listed_folders(roots: Sequence[Path]) -> str:
    """The folders ``roots``, resolved, separated by commas: what a refusal lists as allowed now."""
    return ", ".join(str(Path(root).expanduser().resolve()) for root in roots) or "none"


# the note for a file or folder found inside a data folder that is a symbolic link leading out of the data folders
LINK_OUTSIDE = ("a symbolic link that leads outside this server's data folders; skipped, not read. Copy the file "
                "itself into the folder, or have whoever runs the server add its folder to EXPLORER_DATA_DIRS.")


def is_readable(path: str | Path, roots: Sequence[Path] | None) -> bool:
    """Whether ``path``, its links resolved, lies under one of ``roots`` (always, when ``roots`` is None: the command
    line). For the files a load finds inside a folder that was itself checked."""
    if roots is None:
        return True
    resolved = Path(path).expanduser().resolve()
    return any(resolved.is_relative_to(Path(root).expanduser().resolve()) for root in roots)

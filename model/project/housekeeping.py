"""Housekeeping: remove the temporary files that a killed or crashed write left behind.

``model.atomic.atomic_write`` writes ``.NAME.XXXXXXXX.tmp<suffix>`` beside its target (``XXXXXXXX``: the
8 characters ``tempfile.mkstemp`` picks) and renames it over the target; a process killed in between
leaves the temporary behind: a 57 MB ``models/.model-*.safetensors.*.tmp.safetensors`` for every
interrupted model save. ``remove_stale_temporaries`` deletes exactly those, in the places labeltool
writes, and only once they are older than a threshold (a live write keeps touching its file).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

# .NAME.XXXXXXXX.tmp or .NAME.XXXXXXXX.tmp.SUFFIX, XXXXXXXX from tempfile's alphabet (a-z, 0-9, _)
TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9_-]+)?$")

# (folder under the dataset root, also look one level of subfolders down)
PLACES = (("", False), ("labels", False), (".labeltool", True), ("models", True))


def is_temporary_name(file_name: str) -> bool:
    """A file name ``atomic_write`` uses for its temporary file."""
    return TEMPORARY.match(file_name) is not None


def remove_stale_temporaries(root: str | Path, older_than_s: float = 60.0) -> list[Path]:
    """Delete atomic-write temporaries older than ``older_than_s`` seconds in the dataset folder itself,
    ``labels/``, ``.labeltool/`` and ``models/`` (the last two with their subfolders, one level:
    ``.labeltool/confidence/``, ``models/.checkpoint/``). Returns the files removed.

    Only regular files whose name is an atomic-write temporary are touched: never a symbolic link, a
    folder, a file of another name (``record.sqlite-wal``, a mask, a model) nor a fresh temporary, which
    may belong to a write in progress in this or another process. Errors (a file gone meanwhile, no
    permission) are skipped: housekeeping never stops a project from opening.
    """
    root = Path(root)
    cutoff = time.time() - older_than_s
    removed: list[Path] = []
    for place, subfolders in PLACES:
        folder = root / place if place else root
        _clean(folder, cutoff, subfolders, removed)
    return removed


def _clean(folder: Path, cutoff: float, subfolders: bool, removed: list[Path]) -> None:
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:  # missing, not a folder, unreadable
        return
    for entry in entries:
        try:
            if subfolders and entry.is_dir(follow_symlinks=False):
                _clean(Path(entry.path), cutoff, False, removed)
                continue
            if not is_temporary_name(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                continue  # possibly a live write
        except OSError:
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))

"""Atomic file writes: write a temporary file beside the target, fsync, then rename over it.

A reader (or a crash) sees either the old file or the complete new one, never a torn file. The file
gets the permissions a plain ``open(path, "w")`` would give it (``0o666 & ~umask``, or the mode of the
file it replaces), not the 0600 of the temporary file, so a group-shared dataset stays readable.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where Linux tells it (/proc), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def creation_mode(directory: bool = False) -> int:
    """The mode a normal create gives: 0o666 (files) or 0o777 (folders) less the umask."""
    return (0o777 if directory else 0o666) & ~current_umask()


def _final_mode(path: Path) -> int:
    """Keep the permissions of the file being replaced; a new file gets the normal creation mode."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return creation_mode()


def make_shareable(folder: str | Path) -> None:
    """Give a folder from ``tempfile.mkdtemp`` (0700) the mode ``mkdir`` would give it, keeping a set-group-ID
    bit inherited from its parent (group-shared folders rely on it)."""
    with contextlib.suppress(OSError):
        inherited = os.stat(folder).st_mode & stat.S_ISGID
        os.chmod(folder, creation_mode(directory=True) | inherited)


def atomic_write(path: str | Path, write_fn: Callable[[Path], None]) -> Path:
    """Call ``write_fn(tmp_path)`` to produce the file, then move it to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_fn(tmp)
        with contextlib.suppress(OSError):  # a file system without modes keeps its own
            os.chmod(tmp, _final_mode(path))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""Writing a dataset safely: build it in a temporary folder beside DST, move it into place at the end.

Also the path-safety rules every importer follows: item names are plain file stems, list entries never
lead out of the dataset, and DST is never the source (or a folder holding it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from model.atomic import make_shareable
from model.errors import DatasetError

_BAD_CHARS = set('/\\:*?"<>|') | {chr(c) for c in range(32)}


def check_name(name: str, source: str | Path) -> str:
    """An item name (file stem) that is safe to use as a file name inside the dataset."""
    if not name or name in (".", "..") or name.startswith(".") or any(ch in _BAD_CHARS for ch in name):
        raise DatasetError(source, f"{name!r} is not a usable image name (empty, hidden, or holds a path "
                                   "separator or control character)")
    return name


def entry_basename(entry: str, source: str | Path, line: int) -> str:
    """Only the file name of a list entry (SegNet lists hold paths from a foreign machine)."""
    name = entry.strip().replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        raise DatasetError(source, f"line {line}: {entry!r} names no file")
    return name


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def check_destination(src: Path, dst: Path, force: bool) -> None:
    """DST may be new or an empty folder; an existing one needs --force; it is never SRC or above it."""
    src_r, dst_r = src.resolve(), dst.resolve()
    if dst_r == src_r or inside(src_r, dst_r):
        raise DatasetError(dst, f"the destination holds the source {src}; choose another folder")
    if dst.is_symlink() or (dst.exists() and not dst.is_dir()):
        raise DatasetError(dst, "exists and is not a folder; choose another destination")
    if dst.is_dir() and any(dst.iterdir()) and not force:
        raise DatasetError(dst, "already exists and is not empty; use --force to replace it")


@contextlib.contextmanager
def staged(dst: str | Path, force: bool = False, src: str | Path | None = None) -> Iterator[Path]:
    """Yield a fresh folder beside ``dst``; on success it becomes ``dst``, on any failure it is removed
    and ``dst`` stays exactly as it was. With ``force`` an existing ``dst`` is replaced as a whole (the
    old folder is moved aside and deleted only once the new one is in place)."""
    dst = Path(dst).expanduser().absolute()
    if src is not None:
        check_destination(Path(src).expanduser().absolute(), dst, force)
    elif dst.exists() and (not dst.is_dir() or any(dst.iterdir())) and not force:
        raise DatasetError(dst, "already exists; use --force to replace it")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".labeltool-tmp", dir=dst.parent))
        make_shareable(tmp)  # mkdtemp gives 0700: the team could not read the export
    except OSError as exc:
        raise DatasetError(dst.parent, f"cannot create a folder here ({exc.strerror or exc})") from exc
    try:
        yield tmp
        _move_into_place(tmp, dst)
    except OSError as exc:  # disk full, permissions: name the file, leave DST as it was
        shutil.rmtree(tmp, ignore_errors=True)
        raise DatasetError(exc.filename or dst, f"cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, dst: Path) -> None:
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".labeltool-old", dir=dst.parent))
        old.rmdir()
        os.rename(dst, old)
    try:
        os.rename(tmp, dst)
    except OSError as exc:
        if old is not None:
            os.rename(old, dst)
        raise DatasetError(dst, f"cannot move the new dataset into place ({exc.strerror or exc})") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def copy_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(src, dst)
    except OSError as exc:
        raise DatasetError(src, f"cannot copy ({exc.strerror or exc})") from exc

"""An exclusive inter-process lock on a file (POSIX ``flock``), held while a block runs. The OS drops it
when the holder dies, so a crash never leaves a dataset locked. Without ``fcntl`` (Windows) the block
runs unlocked.

``open_lock_file`` is the one place a lock file is opened (the dataset's ``.labeltool/lock``, the
registry's lock, ``models/.train.lock``): a folder or an unwritable file in its place is a DatasetError
naming the path and what to do, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import DatasetError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def open_lock_file(path: str | Path) -> IO[str]:
    """Open (creating when missing) the lock file ``path`` for flock; DatasetError naming it when a
    folder is in its place or it cannot be created or opened."""
    path = Path(path)
    try:
        return open(path, "a+")  # noqa: SIM115 - the caller holds it for the lock's lifetime
    except IsADirectoryError:
        raise DatasetError(path, "is a folder, but labeltool keeps a lock file of that name here; nothing "
                                 "was written. Move the folder away (labeltool never makes one there) and "
                                 "try again") from None
    except PermissionError as exc:
        raise DatasetError(path, f"the lock file cannot be created or opened ({exc.strerror or exc}); nothing was "
                                 f"written. Make {path.parent} writable for this user and try again") from None
    except FileNotFoundError:
        raise DatasetError(path, f"the lock file cannot be created: {path.parent} does not exist") from None
    except OSError as exc:
        raise DatasetError(path, f"the lock file cannot be opened ({exc.strerror or exc}); nothing was "
                                 "written") from None


@contextlib.contextmanager
def flocked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created when missing; its folder must exist) for the block."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open_lock_file(path) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

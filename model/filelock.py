"""An exclusive inter-process lock on a file (POSIX ``flock``), held while a block runs. The OS drops it
when the holder dies, so a crash never leaves a dataset locked. Without ``fcntl`` (Windows) the block
runs unlocked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


@contextlib.contextmanager
def flocked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created when missing; its folder must exist) for the block."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""One window per dataset folder unless the person says otherwise (no Qt).

A window holds ``.labeltool/app.lock`` for as long as it has the folder open: an OS lock on the open file
(``flock``; the OS drops it when the holder dies, so a crashed window never leaves the folder claimed), with
the holder's pid and host written in it so a second window can say who has it. Where no lock can be taken
(a read-only folder, a lock path that is a folder) nobody is told: the record says what can be saved.
The file's layout (pid, application, host; one a line) is the one QLockFile writes, so a window of an
older labeltool and this one see each other.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt


class FolderLock:
    """The claim of one window on one folder; see the module docstring."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> str:
        """"held" (this window has the folder now), "taken" (another window or process has it) or
        "unlockable" (no lock can be taken here)."""
        if self._handle is not None:
            return "held"
        try:
            handle = open(self.path, "a+")  # noqa: SIM115 - kept open while the folder is open
        except OSError:
            return "unlockable"
        try:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover - Windows
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            handle.close()
            return "taken"
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\nlabeltool\n{socket.gethostname()}\n")
            handle.flush()
        self._handle = handle
        return "held"

    def holder(self) -> str:
        """Who holds the folder, for the question: "process PID on HOST" or "another process"."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        pid = lines[0].strip() if lines else ""
        host = lines[2].strip() if len(lines) > 2 else ""
        if pid.isdigit() and int(pid):
            return f"process {pid} on {host or 'this computer'}"
        return "another process"

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()

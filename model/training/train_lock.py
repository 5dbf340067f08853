"""One trainer per dataset: ``models/.train.lock``, held for a whole training run (the app's or a
terminal's); a second trainer is refused with the holder's name, pid, host and start time."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model.errors import LabeltoolError
from model.filelock import open_lock_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

TRAIN_LOCK = ".train.lock"


class TrainingLocked(LabeltoolError):
    """Another process is training this dataset."""


def _holder_text(info: dict[str, Any]) -> str:
    who = info.get("by") or "another process"
    return f"{who} (pid {info.get('pid', '?')} on {info.get('host', '?')}, since {info.get('since', '?')})"


@contextlib.contextmanager
def train_lock(models_dir: str | Path, by: str | None = None) -> Iterator[Path]:
    """Hold ``models/.train.lock`` for a training run; TrainingLocked naming the holder when another
    process (the app or a terminal) is training the same dataset. The OS releases it if the holder dies."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / TRAIN_LOCK
    handle = open_lock_file(path)  # held for the whole run; a folder in its place is a DatasetError
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                try:
                    info = json.loads(handle.read() or "{}")
                except ValueError:
                    info = {}
                raise TrainingLocked(f"{path}: this dataset is already being trained by {_holder_text(info)}; "
                                     "wait for it to finish or cancel it") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "by": by or os.environ.get("LABELTOOL_TRAIN_HOLDER") or "labeltool train",
                "since": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(info) + "\n")
        handle.flush()
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
    finally:
        handle.close()  # releases the lock

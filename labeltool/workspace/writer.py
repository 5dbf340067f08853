"""Saving masks off the GUI thread (no Qt): :class:`MaskWriter` saves :class:`Snapshot` s (a copy of the
mask taken when the save was asked for) on one thread, in order, and runs the project's other small writes
(hold/release, settings) in that order too. A save refuses to replace a person's mask that another program
or window wrote since the image was opened here (ConflictError): nothing either writes is lost without the
user being asked.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labeltool.workspace.loader import Fingerprint, fingerprint
from model.errors import LabeltoolError
from model.project import Project


class ConflictError(LabeltoolError):
    """The mask on disk is someone else's correction made since the image was opened here."""


class ReadOnlyError(LabeltoolError):
    """This window opened the folder read-only."""


@dataclass
class Snapshot:
    """The pixels to save, taken when the save was asked for; later edits are not in it."""

    name: str
    mask: np.ndarray
    base_fingerprint: Fingerprint = None  # the mask file as it was when the image was opened here
    state_id: int | None = None  # the editor's history state the pixels belong to
    layer: Any = None  # the editor's layer they came from (edits after the snapshot stay dirty)
    force: bool = False  # write even over a correction made elsewhere since (the user said so)
    target: Path | None = None  # "Save as…": write the PNG here, no record
    serial: int = field(default_factory=lambda: next(_SNAPSHOT_IDS))


def _ids():
    n = 0
    while True:
        n += 1
        yield n


_SNAPSHOT_IDS = _ids()


@dataclass
class SaveResult:
    snapshot: Snapshot
    status: str | None
    record: Any
    fingerprint: Fingerprint
    path: Path
    seconds: float
    cpu_seconds: float = 0.0  # the writer thread's own CPU time for it


def save_snapshot(project: Project, snap: Snapshot, last_written: dict[str, Fingerprint] | None = None,
                  read_only: str | bool | None = None) -> SaveResult:
    """Write one snapshot as a correction (or to ``snap.target``); runs on the writer thread."""
    start, cpu = time.perf_counter(), time.thread_time()
    if snap.target is not None:
        from model.imageio import write_mask

        path = write_mask(snap.target, snap.mask, project.palette)
        return SaveResult(snap, None, None, fingerprint(path), Path(path), time.perf_counter() - start)
    path = project.label_path(snap.name)
    if read_only:
        raise ReadOnlyError(path, read_only if isinstance(read_only, str) else "this window opened the folder read-only")
    last = (last_written or {}).get(snap.name)
    on_disk = fingerprint(path)
    if (not snap.force and on_disk is not None and on_disk not in (snap.base_fingerprint, last)
            and project.status(snap.name) == "corrected"):
        raise ConflictError(path, "another program or labeltool window saved a correction of this image after "
                                  "it was opened here; saving would replace that correction")
    project.save_mask(snap.name, snap.mask, "corrected")
    new = fingerprint(path)
    if last_written is not None:
        last_written[snap.name] = new
    record = project.record(snap.name)
    status = record.status if record is not None else "corrected"
    return SaveResult(snap, status, record, new, path, time.perf_counter() - start, time.thread_time() - cpu)


class MaskWriter:
    """Saves snapshots on one thread, in the order asked; also runs the project's other small writes
    (hold/release, settings, palette) so that they keep that order."""

    def __init__(self, project: Project | None = None):
        self.project = project
        self.read_only = False
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="labeltool-write")
        self._pending: dict[str, Future] = {}
        self._last_written: dict[str, Fingerprint] = {}
        self._lock = threading.Lock()

    def set_project(self, project: Project | None, read_only: str | bool | None = None) -> None:
        """``read_only``: why nothing may be saved (a reason, or True), or None."""
        self.project = project
        self.read_only = read_only
        self._last_written = {}

    def save(self, snap: Snapshot) -> Future:
        project, read_only, last = self.project, self.read_only, self._last_written
        future = self._pool.submit(save_snapshot, project, snap, last, read_only)
        if snap.target is None:
            with self._lock:
                self._pending[snap.name] = future
            future.add_done_callback(lambda f, name=snap.name: self._done(name, f))
        return future

    def _done(self, name: str, future: Future) -> None:
        with self._lock:
            if self._pending.get(name) is future:
                del self._pending[name]

    def last_written(self, name: str) -> Fingerprint:
        """The mask file as this writer last left it (tells its own writes from other programs')."""
        return self._last_written.get(name)

    def pending(self, name: str) -> Future | None:
        with self._lock:
            return self._pending.get(name)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def wait_for(self, name: str, timeout: float | None = 60.0) -> None:
        """Block (a worker thread, never the GUI) until the image's pending save has finished."""
        future = self.pending(name)
        if future is not None:
            with contextlib.suppress(Exception, CancelledError):
                future.result(timeout)

    def call(self, fn, *args) -> Future:
        return self._pool.submit(fn, *args)

    def flush(self, timeout: float | None = 60.0) -> None:
        self._pool.submit(lambda: None).result(timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

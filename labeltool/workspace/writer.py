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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from labeltool.workspace.loader import Fingerprint, fingerprint
from labeltool.workspace.recovery import write_recovery
from labeltool.workspace.session import SAVE_STATUS
from model.errors import LabeltoolError
from model.project.project import Project


class ConflictError(LabeltoolError):
    """The mask on disk is a person's mask (edited or corrected) that someone else saved since the image
    was opened here."""


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
    status: str = SAVE_STATUS  # "edited" (autosave, switching, Ctrl+S) or "corrected" (Accept)
    unpainted: np.ndarray | None = None  # pixels nobody painted (a project without Void), kept in an edited stamp
    serial: int = field(default_factory=lambda: next(_SNAPSHOT_IDS))

    def again(self, force: bool, keep_layer: bool) -> Snapshot:
        """The same pixels and status to save once more (a new serial); ``keep_layer``: they are still the
        editor's (a save of them marks the editor saved)."""
        gone = {} if keep_layer else {"state_id": None, "layer": None}
        return replace(self, force=force, serial=next(_SNAPSHOT_IDS), **gone)


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
    kept_proposal: bool = False  # a proposal is kept for "Revert to proposal"


def save_snapshot(project: Project, snap: Snapshot, last_written: dict[str, Fingerprint] | None = None,
                  read_only: str | bool | None = None) -> SaveResult:
    """Write one snapshot with its status (or to ``snap.target``); runs on the writer thread. The conflict
    check runs under the project's write lock, right before the write (``save_mask(guard=...)``)."""
    start, cpu = time.perf_counter(), time.thread_time()
    if snap.target is not None:
        from model.images.imageio import write_mask

        path = write_mask(snap.target, snap.mask, project.palette)
        return SaveResult(snap, None, None, fingerprint(path), Path(path), time.perf_counter() - start)
    path = project.label_path(snap.name)
    if read_only:
        raise ReadOnlyError(path, read_only if isinstance(read_only, str) else "this window opened the folder read-only")
    last = (last_written or {}).get(snap.name)

    def no_conflict() -> None:
        on_disk = fingerprint(path)
        if (not snap.force and on_disk is not None and on_disk not in (snap.base_fingerprint, last)
                and project.status(snap.name) in ("edited", "corrected", "reviewed", "rejected")):
            raise ConflictError(path, "another program or labeltool window saved a person's mask of this image "
                                      "after it was opened here; saving would replace it")

    project.save_mask(snap.name, snap.mask, snap.status, guard=no_conflict,
                      unpainted=snap.unpainted if snap.status == SAVE_STATUS else None)
    return _result(project, snap.name, snap, last_written, start, cpu)


def _result(project: Project, name: str, snap: Snapshot | None, last_written, start: float, cpu: float) -> SaveResult:
    path = project.label_path(name)
    new = fingerprint(path)
    if last_written is not None:
        last_written[name] = new
    record = project.record(name)
    status = record.status if record is not None else project.status(name)
    return SaveResult(snap, status, record, new, path, time.perf_counter() - start, time.thread_time() - cpu,
                      project.has_kept_proposal(name))


def save_or_recover(project: Project, snap: Snapshot, last_written: dict[str, Fingerprint] | None = None,
                    read_only: str | bool | None = None) -> SaveResult:
    """:func:`save_snapshot`; when the write fails (not a conflict, not a read-only window) the pixels go to
    a recovery file first (labeltool.workspace.recovery), named by the exception's ``recovery_path``."""
    try:
        return save_snapshot(project, snap, last_written, read_only)
    except (ConflictError, ReadOnlyError):
        raise
    except Exception as exc:
        if snap.target is None:
            exc.recovery_path = write_recovery(project, snap.name, snap.mask)
        raise


def apply_status(project: Project, name: str, status: str, last_written: dict[str, Fingerprint] | None = None,
                 read_only: str | bool | None = None) -> SaveResult:
    """Mark corrected / Mark not checked / Revert to proposal (``Project.set_status``), on the writer thread."""
    start, cpu = time.perf_counter(), time.thread_time()
    if read_only:
        raise ReadOnlyError(project.label_path(name),
                            read_only if isinstance(read_only, str) else "this window opened the folder read-only")
    project.set_status(name, status)
    return _result(project, name, None, last_written, start, cpu)


def apply_review(project: Project, name: str, verdict: str, note: str = "",
                 last_written: dict[str, Fingerprint] | None = None, read_only: str | bool | None = None) -> SaveResult:
    """A reviewer's verdict (``Project.review``), on the writer thread: the same pixels, re-stamped."""
    start, cpu = time.perf_counter(), time.thread_time()
    if read_only:
        raise ReadOnlyError(project.label_path(name),
                            read_only if isinstance(read_only, str) else "this window opened the folder read-only")
    project.review(name, verdict, note=note)
    return _result(project, name, None, last_written, start, cpu)


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
        future = self._pool.submit(save_or_recover, project, snap, last, read_only)
        if snap.target is None:
            self._track(snap.name, future)
        return future

    def set_status(self, name: str, status: str) -> Future:
        """A person's status action on the image (:func:`apply_status`), in order with the saves."""
        future = self._pool.submit(apply_status, self.project, name, status, self._last_written, self.read_only)
        self._track(name, future)
        return future

    def review(self, name: str, verdict: str, note: str = "") -> Future:
        """A reviewer's verdict on the image (:func:`apply_review`), in order with the saves."""
        future = self._pool.submit(apply_review, self.project, name, verdict, note, self._last_written, self.read_only)
        self._track(name, future)
        return future

    def _track(self, name: str, future: Future) -> None:
        with self._lock:
            self._pending[name] = future
        future.add_done_callback(lambda f: self._done(name, f))

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

"""File work off the GUI thread: opening a project, decoding images (with prefetch), saving masks.

The window never decodes or writes a file itself. Everything here except :class:`FutureSignals` and
:func:`wait_future` is usable headless (scripts, benchmarks):

- :func:`open_project` opens a folder and reads its record into a :class:`labeltool.session.Session`.
- :class:`ImageLoader` decodes image + mask + confidence of one image on a "now" thread and prefetches
  the next ones on a second thread; a cached result is dropped when its mask is written meanwhile.
- :class:`MaskWriter` saves :class:`Snapshot` s (a copy of the mask taken when the save was asked for) on
  one thread, in order; a load of an image waits for that image's pending write. A save refuses to replace
  a correction that another program or window wrote since the image was opened here (ConflictError):
  nothing either writes is lost without the user being asked.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labeltool.session import Session
from model.errors import LabeltoolError
from model.project import Project

Fingerprint = tuple[int, int, int] | None


class ConflictError(LabeltoolError):
    """The mask on disk is someone else's correction made since the image was opened here."""


class ReadOnlyError(LabeltoolError):
    """This window opened the folder read-only."""


def fingerprint(path: Path) -> Fingerprint:
    """(inode, mtime_ns, size) of a file, None when absent: tells any rewrite (writes are atomic renames)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


# ---- opening ---------------------------------------------------------------------------------------
@dataclass
class Opened:
    project: Project
    session: Session
    serial: int = 0
    seconds: float = 0.0
    order_saved: bool = False  # the user chose an order for this project before


def read_records(project: Project) -> dict[str, Any]:
    """name -> ImageRecord for every image."""
    return project.records()


def open_project(folder: str | Path, codes: list[str] | None = None) -> Opened:
    """Project.open + its records + the typical image size, as a ready Session (runs in a worker)."""
    from model.imageio import image_size

    start = time.perf_counter()
    project = Project.open(folder, codes=codes)
    records = read_records(project)
    pixels = None
    names = project.names()
    if names:
        with contextlib.suppress(LabeltoolError, OSError):
            width, height = image_size(project.image_path(names[0]))
            pixels = width * height
    serial = max((getattr(r, "serial", 0) or 0 for r in records.values()), default=0)  # changes seen so far
    session = Session(project, records=records, image_pixels=pixels)
    order = project.get_setting("order")
    if order in ("uncertain", "name", "status"):
        session.sort(order)
    return Opened(project, session, serial, time.perf_counter() - start, order in ("uncertain", "name", "status"))


# ---- loading ---------------------------------------------------------------------------------------
@dataclass
class Bundle:
    """One decoded image, ready for the editor."""

    name: str
    image: np.ndarray
    mask: np.ndarray | None
    confidence: np.ndarray | None
    status: str
    record: Any
    fingerprint: Fingerprint
    generation: int = 0


def load_bundle(project: Project, name: str) -> Bundle:
    """Decode image, mask and (for a proposal) its confidence map."""
    from model.imageio import read_raw

    # the record first: a mask written after it is read makes the record's serial look older than the
    # mask, never newer (ImageLoader.invalidate keeps a decode only when its serial is at least the change's)
    record = project.record(name)
    label = project.label_path(name)
    fp = fingerprint(label)
    image = read_raw(project.image_path(name))  # the data as read; the canvas shows it through the display window
    mask = project.load_mask(name) if fp is not None else None
    status = record.status if record is not None else project.status(name)
    confidence = None
    if status in ("proposed", "unknown"):
        confidence = read_confidence_map(project, name)
    return Bundle(name, image, mask, confidence, status, record, fp)


def read_confidence_map(project: Project, name: str) -> np.ndarray | None:
    from model.propose import read_confidence

    try:
        path = project.confidence_path(name)
        return read_confidence(path) if path.exists() else None
    except (LabeltoolError, OSError, ValueError):
        return None


class ImageLoader:
    """Decodes images on two threads: the one asked for now, and the next ones ahead."""

    def __init__(self, project: Project | None = None, writer: MaskWriter | None = None, cache_size: int = 6):
        self.project = project
        self.writer = writer
        self.cache_size = cache_size
        self._now = ThreadPoolExecutor(1, thread_name_prefix="labeltool-load")
        self._ahead = ThreadPoolExecutor(1, thread_name_prefix="labeltool-prefetch")
        self._cache: OrderedDict[str, Future] = OrderedDict()
        self._generation: dict[str, int] = {}
        self._lock = threading.Lock()

    def set_project(self, project: Project | None) -> None:
        with self._lock:
            self.project = project
            for future in self._cache.values():
                future.cancel()
            self._cache.clear()
            self._generation.clear()

    def _task(self, project: Project, name: str, generation: int) -> Bundle:
        if self.writer is not None:
            self.writer.wait_for(name)  # the image's own pending save first: load what it wrote
        bundle = load_bundle(project, name)
        bundle.generation = generation
        return bundle

    def get(self, name: str) -> Future:
        """The image's bundle (a Future), from the prefetch cache when it is still valid."""
        with self._lock:
            generation = self._generation.get(name, 0)
            future = self._cache.get(name)
            if future is not None and future.generation == generation and not future.cancelled():
                if future.done() or future.running() or not future.cancel():
                    self._cache.move_to_end(name)
                    return future
            future = self._now.submit(self._task, self.project, name, generation)
            future.generation = generation
            self._remember(name, future)
            return future

    def prefetch(self, names: list[str]) -> None:
        with self._lock:
            for name in names:
                generation = self._generation.get(name, 0)
                future = self._cache.get(name)
                if future is not None and future.generation == generation and not future.cancelled():
                    continue
                try:
                    future = self._ahead.submit(self._task, self.project, name, generation)
                except RuntimeError:  # shut down (the window closed): nothing more to prefetch
                    return
                future.generation = generation
                self._remember(name, future)

    def _remember(self, name: str, future: Future) -> None:
        self._cache[name] = future
        self._cache.move_to_end(name)
        while len(self._cache) > self.cache_size:
            _, old = self._cache.popitem(last=False)
            old.cancel()

    def invalidate(self, name: str, record: Any = None) -> None:
        """The image's mask or record changed: a cached decode of it is stale. With ``record`` (the changed
        record, as a poll saw it) a decode that already read that change or a later one is kept."""
        with self._lock:
            if record is not None and self._has_seen(name, getattr(record, "serial", None)):
                return
            self._generation[name] = self._generation.get(name, 0) + 1
            future = self._cache.pop(name, None)
            if future is not None:
                future.cancel()

    def _ready(self, name: str) -> Future | None:
        """The cached decode of the image when it is current and finished without error (lock held)."""
        future = self._cache.get(name)
        if future is None or future.generation != self._generation.get(name, 0):
            return None
        if not future.done() or future.cancelled() or future.exception() is not None:
            return None
        return future

    def _has_seen(self, name: str, serial: int | None) -> bool:
        future = self._ready(name) if serial is not None else None
        seen = getattr(future.result().record, "serial", None) if future is not None else None
        return seen is not None and seen >= serial

    def cached(self, name: str) -> bool:
        """A valid decode of the image is ready (tests, benchmarks)."""
        with self._lock:
            return self._ready(name) is not None

    def is_current(self, bundle: Bundle) -> bool:
        return bundle.generation == self._generation.get(bundle.name, 0)

    def submit(self, fn, *args) -> Future:
        """Other reads (record polls, rescans) on the prefetch thread, behind the decodes asked for."""
        return self._ahead.submit(fn, *args)

    def shutdown(self) -> None:
        self.set_project(None)
        self._now.shutdown(wait=True, cancel_futures=True)
        self._ahead.shutdown(wait=True, cancel_futures=True)


# ---- saving ----------------------------------------------------------------------------------------
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


def accept_and_next(session: Session, loader: ImageLoader, writer: MaskWriter, mask: np.ndarray,
                    prefetch: int = 2) -> tuple[Future, Bundle | None]:
    """The window's Accept without Qt (benchmarks): queue the shown image's pixels as its correction, move
    to the next image to correct and return (the save's Future, that image's decoded Bundle or None at the
    end); the images after it are prefetched as the window does."""
    name = session.current
    save = writer.save(Snapshot(name, mask.copy(), fingerprint(session.project.label_path(name))))
    loader.invalidate(name)
    target = session.next_not_corrected()
    if target is None:
        return save, None
    session.index = target
    bundle = loader.get(session.names[target]).result()
    ahead = [i for i in (session.step(d) for d in range(1, prefetch + 1)) if i is not None]
    loader.prefetch([session.names[i] for i in ahead])
    return save, bundle


# ---- polling the record and the folder --------------------------------------------------------------
@dataclass
class Changes:
    serial: int
    rows: dict[str, tuple[str, Any]]  # name -> (status, record)
    current: str | None = None
    current_fingerprint: Fingerprint = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def poll_changes(project: Project, serial: int, current: str | None = None, rescan: bool = False) -> Changes:
    """What changed in the record since ``serial`` (this process or any other), and with ``rescan`` the
    images added to / removed from the folder."""
    added: list[str] = []
    removed: list[str] = []
    if rescan:
        added, removed = project.rescan()
    serial, names = project.changed_since(serial)
    names = list(dict.fromkeys([*names, *added]))
    if len(names) > 2000:
        records = project.records()
        rows = {n: (records[n].status, records[n]) for n in names if n in records}
    else:
        rows = {}
        for name in names:
            with contextlib.suppress(LabeltoolError):
                record = project.record(name)
                rows[name] = (record.status if record is not None else "none", record)
    fp = fingerprint(project.label_path(current)) if current is not None else None
    return Changes(serial, rows, current, fp, list(added), list(removed))


# ---- Qt glue (GUI side) -----------------------------------------------------------------------------
def _qt():
    from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

    class FutureSignals(QObject):
        """Delivers finished Futures on the GUI thread: done(tag, future).

        Polled by a GUI-thread timer while any Future is pending (every 2 ms, stopped when none is):
        PySide6 6.12 crashes (refcount error) when a worker thread that is not a QThread emits a signal,
        so no Qt call is ever made from the worker threads."""

        done = Signal(object, object)

        def __init__(self, parent=None, interval_ms: int = 2):
            super().__init__(parent)
            self._watched: list[tuple[Future, Any]] = []
            self._timer = QTimer(self)
            self._timer.setInterval(interval_ms)
            self._timer.timeout.connect(self.deliver)

        def watch(self, future: Future, tag: Any) -> Future:
            self._watched.append((future, tag))
            if not self._timer.isActive():
                self._timer.start()
            return future

        def deliver(self) -> None:
            ready, waiting = [], []
            for item in self._watched:
                (ready if item[0].done() else waiting).append(item)
            if not ready:
                return
            self._watched = waiting
            if not self._watched:
                self._timer.stop()
            for future, tag in ready:
                self.done.emit(tag, future)

    return FutureSignals, QEventLoop, QTimer


_QT: tuple | None = None


def _qt_classes():
    global _QT
    if _QT is None:
        _QT = _qt()
    return _QT


def future_signals(parent=None):
    """A FutureSignals object (GUI thread only)."""
    return _qt_classes()[0](parent)


def wait_future(future: Future, timeout_ms: int = 60_000) -> None:
    """Wait for a Future while the window keeps painting and answering (a local event loop)."""
    if future.done():
        return
    _, QEventLoop, QTimer = _qt_classes()  # noqa: N806 - Qt class names
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: future.done() and loop.quit())
    timer.start()
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    timer.stop()

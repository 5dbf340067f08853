"""Opening a project and decoding its images off the GUI thread (no Qt; scripts and benchmarks use it too).

- :func:`open_project` opens a folder and reads its record into a :class:`labeltool.workspace.session.Session`.
- :class:`ImageLoader` decodes image + mask + confidence of one image on a "now" thread and prefetches
  the next ones on a second thread; a cached result is dropped when its mask is written meanwhile; a load
  of an image waits for that image's pending write (:class:`labeltool.workspace.writer.MaskWriter`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labeltool.workspace.session import ORDERS, Session
from model.errors import LabeltoolError
from model.project.assignment import assigned_to
from model.project.audit_record import read_audit
from model.project.identity import annotator
from model.project.project import Project

if TYPE_CHECKING:
    from labeltool.workspace.writer import MaskWriter

Fingerprint = tuple[int, int, int] | None


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
    list_problems: list[str] = field(default_factory=list)  # valid.txt/test.txt problems: retrains stop on them


def read_records(project: Project) -> dict[str, Any]:
    """name -> ImageRecord for every image."""
    return project.records()


def open_project(folder: str | Path, codes: list[str] | None = None) -> Opened:
    """Project.open + its records + the typical image size, as a ready Session (runs in a worker)."""
    from model.images.imageio import image_size

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
    try:
        session.set_audit(read_audit(project.state_dir))
        session.set_assigned(assigned_to(project.state_dir, annotator()))
    except LabeltoolError as exc:  # an unreadable audit or assignment: said, the list shows nothing of it
        project.warnings.append(str(exc))
    order = project.get_setting("order")
    if order in ORDERS:
        session.sort(order)
    return Opened(project, session, serial, time.perf_counter() - start, order in ORDERS,
                  project.split_list_problems())


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
    unpainted: np.ndarray | None = None  # pixels nobody painted, as the edited mask's stamp recorded them
    kept_proposal: bool = False  # a proposal is kept for "Revert to proposal"


def load_bundle(project: Project, name: str) -> Bundle:
    """Decode image, mask and (for a proposal) its confidence map."""
    from model.images.imageio import read_raw

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
    unpainted = project.load_unpainted(name) if status == "edited" else None
    return Bundle(name, image, mask, confidence, status, record, fp, unpainted=unpainted,
                  kept_proposal=project.has_kept_proposal(name))


def read_confidence_map(project: Project, name: str) -> np.ndarray | None:
    from model.project.confidence import read_confidence

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

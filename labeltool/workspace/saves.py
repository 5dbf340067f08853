"""The window's saves without Qt: which save of each image is the latest, which failed and were not
resolved yet, what happens before closing (settle), the image held for its unsaved edits, and Accept
headless.

Rules:
- Each image's latest save is the one that counts: an older save that fails after a newer one was asked
  for is superseded (the newer one has these pixels and more).
- A failed save stays "failed" until a later save of that image succeeds, its pixels go back on screen
  (they are the editor's again, unsaved), or the person discards them on purpose. Its *alert* (the window's
  persistent banner, naming the recovery file the writer wrote: labeltool.workspace.recovery) stays until a
  save of that image succeeds or its edits are discarded or saved elsewhere on purpose.
- Nothing closes (nor opens another folder) while a save failed, unless the person chooses: retry, save
  elsewhere, discard or cancel (the question is a callback: the window asks with a dialog, tests answer).
- The image with unsaved edits is held in the record (``Project.hold``) so that proposals of any process
  leave it alone; it is released after its save, in the writer's order.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

from labeltool.workspace.loader import Bundle, ImageLoader, fingerprint
from labeltool.workspace.plan import decode_plan
from labeltool.workspace.recovery import recovery_of
from labeltool.workspace.session import ACCEPT_STATUS, Session
from labeltool.workspace.writer import ConflictError, MaskWriter, Snapshot
from model.project.record import HOLD_REFRESH_S  # noqa: F401 - the window refreshes its hold this often


class SaveBook:
    """The latest save of each image and the failed saves nobody resolved yet (see the module docstring)."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[Snapshot, Future]] = {}  # name -> (snapshot, future) of its latest save
        self.failed: dict[str, tuple[Snapshot, BaseException]] = {}  # name -> (snapshot, exception)
        self._handled: set[int] = set()
        self.alerts: dict[str, str] = {}  # name -> what the banner says: a failed save not resolved yet

    def clear(self) -> None:
        self.latest.clear()
        self.failed.clear()
        self.alerts.clear()

    def banner(self) -> str | None:
        """The persistent banner's text while any failed save is unresolved, else None."""
        if not self.alerts:
            return None
        text = next(iter(self.alerts.values()))
        more = len(self.alerts) - 1
        return text + (f" ({more} more image{'s' if more > 1 else ''} not saved either)" if more else "")

    def submitted(self, snap: Snapshot, future: Future) -> None:
        if snap.target is None:
            self.latest[snap.name] = (snap, future)

    def saving(self, name: str) -> bool:
        """A save of the image was asked for and its outcome not taken in yet."""
        return name in self.latest

    def same_save(self, name: str, layer, state_id) -> Future | None:
        """The save already asked for these very pixels (being written, or written), or None."""
        latest = self.latest.get(name)
        if latest is None or latest[0].layer is not layer or latest[0].state_id != state_id:
            return None
        if latest[1].done() and latest[1].exception() is not None:
            return None
        return latest[1]

    def outcome(self, snap: Snapshot, future: Future) -> str | None:
        """Take in a finished save, once: "saved", "failed" or None (taken in before, cancelled, a Save as…,
        or superseded by a later save of the image)."""
        if snap.serial in self._handled or future.cancelled():
            return None
        self._handled.add(snap.serial)
        if snap.target is not None:
            return None  # "Save as…": its caller waits for it
        latest = self.latest.get(snap.name)
        exc = future.exception()
        if exc is not None:
            if latest is not None and latest[0] is not snap:
                return None  # a later save of this image (with these pixels and more) supersedes this one
            self.failed[snap.name] = (snap, exc)
            self.alerts[snap.name] = alert_text(snap.name, exc)
            return "failed"
        if latest is not None and latest[0] is snap:
            del self.latest[snap.name]
        failed = self.failed.get(snap.name)
        if failed is not None and failed[0].serial < snap.serial:
            del self.failed[snap.name]
        if snap.name not in self.failed:
            self.alerts.pop(snap.name, None)
        return "saved"

    def finished(self) -> list[tuple[Snapshot, Future]]:
        """The latest saves that are done (their outcome may not have been taken in yet)."""
        return [(snap, future) for snap, future in self.latest.values() if future.done()]

    def take_back(self, name: str) -> tuple[Snapshot, BaseException] | None:
        """The image is opened again: its failed save (also one whose news has not arrived yet: the decode
        waited for it and came first) goes back on screen, and is no longer "failed" here."""
        failed = self.failed.get(name) or self._failed_unseen(name)
        if failed:
            self.forget(name)
        return failed

    def _failed_unseen(self, name: str) -> tuple[Snapshot, BaseException] | None:
        entry = self.latest.get(name)
        if entry is None or not entry[1].done() or entry[1].cancelled() or entry[1].exception() is None:
            return None
        self._handled.add(entry[0].serial)
        return entry[0], entry[1].exception()

    def forget(self, name: str) -> None:
        """The failed save's pixels are on screen again, or were discarded or saved elsewhere on purpose."""
        self.failed.pop(name, None)
        entry = self.latest.get(name)
        if entry is not None and entry[1].done():
            self._handled.add(entry[0].serial)
            del self.latest[name]

    def resolve(self, name: str) -> None:
        """The image's unsaved edits were discarded or saved elsewhere on purpose: nothing is unsaved."""
        self.forget(name)
        self.alerts.pop(name, None)

    def first_failed(self) -> tuple[str, Snapshot, BaseException] | None:
        for name, (snap, exc) in self.failed.items():
            return name, snap, exc
        return None

    def settle(self, doing: str, *, save: Callable[[], None], ask: Callable[[str, str, str], str],
               resolved: Callable[[str], None], retry: Callable[[Snapshot, bool], None],
               save_as: Callable[[str, Snapshot], bool]) -> bool:
        """Before closing or opening another folder (``doing``): True once nothing is unsaved (saved, or
        discarded on purpose); False when the person cancels. ``save()`` saves what is on screen and waits
        for every write; ``ask(name, reason, doing)`` answers "retry", "save_as", "discard" or "cancel";
        ``resolved(name)``: the image's edits are no longer unsaved (discarded, or saved elsewhere);
        ``retry(snapshot, force)`` saves again (``force`` after a conflict: the person said so);
        ``save_as(name, snapshot)`` saves a copy elsewhere, True when written."""
        while True:
            save()
            failed = self.first_failed()
            if failed is None:
                return True
            name, snap, exc = failed
            choice = ask(name, str(exc), doing)
            if choice == "cancel":
                return False
            if choice == "discard":
                self.resolve(name)
                resolved(name)
            elif choice == "retry":
                del self.failed[name]
                retry(snap, isinstance(exc, ConflictError))
            elif choice == "save_as" and save_as(name, snap):
                self.resolve(name)
                resolved(name)


def alert_text(name: str, exc: BaseException) -> str:
    """The banner's words for a failed save: what failed, and where the unsaved pixels are."""
    path = recovery_of(exc)
    where = (f"Its unsaved pixels were written to {path}." if path is not None else
             "Its unsaved pixels are only in this window: keep it open until they are saved (Save as… on close).")
    return f"Could not save {name}: {exc}. {where}"


class Hold:
    """The image held in the record for its unsaved edits (``Project.hold``); ``call(fn, *args)`` runs a
    record write in the writer's order (the window passes the writer thread's)."""

    def __init__(self, call: Callable) -> None:
        self.call = call
        self.name: str | None = None

    def hold(self, project, name: str) -> None:
        if name != self.name:
            self.release(project)
            self.name = name
            self.call(project.hold, name)

    def refresh(self, project) -> None:
        """Hold the held image again (the window does so every ``model.project.record.HOLD_REFRESH_S``), so that a
        session open for days never looks like an editor that crashed (holds expire after HOLD_EXPIRY_S)."""
        if project is not None and self.name is not None:
            self.call(project.hold, self.name)

    def release(self, project) -> None:
        """The held image (if any) is released, after the saves queued before it."""
        if project is not None and self.name is not None:
            self.call(project.release, self.name)
        self.name = None


def accept_and_next(session: Session, loader: ImageLoader, writer: MaskWriter, mask: np.ndarray,
                    prefetch: int = 2) -> tuple[Future, Bundle | None]:
    """The window's Accept without Qt (benchmarks): queue the shown image's pixels as its correction, move
    to the next image to correct and return (the save's Future, that image's decoded Bundle or None at the
    end); the images after it are prefetched as the window does (:func:`labeltool.workspace.plan.decode_plan`)."""
    name = session.current
    save = writer.save(Snapshot(name, mask.copy(), fingerprint(session.project.label_path(name)), status=ACCEPT_STATUS))
    loader.invalidate(name)
    target = session.next_not_corrected()
    if target is None:
        return save, None
    session.index = target
    bundle = loader.get(session.names[target]).result()
    loader.prefetch(decode_plan(session, prefetch))
    return save, bundle

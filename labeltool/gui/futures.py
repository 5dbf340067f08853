"""Finished Futures from the worker threads (labeltool.workspace: loader, writer) handed to the GUI thread,
and a wait that keeps the window painting. The only Qt part of the window's file work."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

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



def future_signals(parent=None) -> FutureSignals:
    """A FutureSignals object (GUI thread only)."""
    return FutureSignals(parent)


def wait_future(future: Future, timeout_ms: int = 60_000) -> None:
    """Wait for a Future while the window keeps painting and answering (a local event loop)."""
    if future.done():
        return
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: future.done() and loop.quit())
    timer.start()
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    timer.stop()

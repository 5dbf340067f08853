"""Long work off the GUI thread: proposing masks in a worker thread, training in a separate process.

Training runs `python -m labeltool train DATASET --json` (the same command as in a terminal) under a
QProcess, and the window follows its JSON-lines progress protocol (docs/progress-protocol.md).
"""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QObject, QProcess, QThread, Signal

from model.progress import parse_event
from model.project import Project


class ProposeWorker(QThread):
    """Runs model.propose.propose_dataset in a thread; cancellable between images."""

    progress = Signal(int, int, str)  # done, total, name
    succeeded = Signal(list)  # names written
    failed = Signal(str)

    def __init__(self, project: Project, names: list[str] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.project = project
        self.names = names
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:  # runs in the worker thread
        try:
            from model.propose import propose_dataset

            written = propose_dataset(self.project, names=self.names,
                                      on_progress=lambda done, total, name: self.progress.emit(done, total, name),
                                      cancel=self._cancel.is_set)
        except Exception as exc:  # shown to the user; the thread must not die silently
            self.failed.emit(f"Proposing failed: {exc}")
            return
        self.succeeded.emit(list(written))


class TrainProcess(QObject):
    """`labeltool train DATASET --json` in a child process, its events turned into Qt signals."""

    event = Signal(dict)
    finished = Signal(bool, str)  # ok, message (the model path when ok)

    def __init__(self, dataset: str, extra_args: list[str] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset = dataset
        self.extra_args = extra_args or []
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self._buffer = ""
        self._stderr_tail: list[str] = []
        self._model: str | None = None
        self._error_message: str | None = None
        self._cancelled = False

    def start(self) -> None:
        args = ["-m", "labeltool", "train", self.dataset, "--json", *self.extra_args]
        self.process.start(sys.executable, args)

    def is_running(self) -> bool:
        return self.process.state() != QProcess.NotRunning

    def cancel(self) -> None:
        """Ask the trainer to stop (SIGTERM: it keeps its last checkpoint); kill it if it does not."""
        if not self.is_running():
            return
        self._cancelled = True
        self.process.terminate()
        if not self.process.waitForFinished(5000):
            self.process.kill()

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            event = parse_event(line)
            if event is None:
                continue
            if event.get("event") == "done":
                self._model = str(event.get("model", ""))
            elif event.get("event") == "error":
                self._error_message = str(event.get("message", "training failed"))
            self.event.emit(event)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self._stderr_tail = (self._stderr_tail + text.splitlines())[-20:]

    def _error(self, error) -> None:
        if error == QProcess.FailedToStart:
            self.finished.emit(False, f"could not start the trainer ({self.process.errorString()})")

    def _finished(self, code: int, status) -> None:
        self._read_stdout()
        if self._cancelled:
            self.finished.emit(False, "Training cancelled")
        elif code == 0 and self._model:
            self.finished.emit(True, self._model)
        else:
            tail = self._error_message or (self._stderr_tail[-1] if self._stderr_tail else f"exit code {code}")
            self.finished.emit(False, f"Training failed: {tail}")

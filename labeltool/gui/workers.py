"""Long work off the GUI process: proposing, training and evaluating each run as a child process.

Each job runs the same command as in a terminal (`python -m labeltool train|predict DATASET --json`,
`labeltool models DATASET --evaluate NAME --json`) under a QProcess, and the window follows its JSON-lines
progress protocol (docs/progress-protocol.md). The app process therefore holds no model, and no GPU
memory, between jobs; a proposal run reports each image as it is written so the list fills as it goes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QThread, Signal

from model.progress import parse_event
from model.project.project import Project

APP_HOLDER = "the labeltool app"  # named by a terminal `labeltool train` refused by the training lock
MAX_ARGV_NAMES = 500  # more names than this go to the child in a file


class ProposeWorker(QThread):
    """Runs model.inference.propose_dataset in a thread (in-process; the app proposes through ProposeProcess)."""

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
            from model.inference.propose import propose_dataset

            written = propose_dataset(self.project, names=self.names,
                                      on_progress=lambda done, total, name: self.progress.emit(done, total, name),
                                      cancel=self._cancel.is_set)
        except Exception as exc:  # shown to the user; the thread must not die silently
            self.failed.emit(f"Proposing failed: {exc}")
            return
        self.succeeded.emit(list(written))


class JsonLinesProcess(QObject):
    """`python -m labeltool ARGS` in a child process; each JSON line of its stdout becomes ``event``."""

    event = Signal(dict)
    finished = Signal(bool, str)  # ok, message (subclasses: the result when ok)

    what = "the job"

    def __init__(self, args: list[str], parent: QObject | None = None, env: dict[str, str] | None = None):
        super().__init__(parent)
        self.args = list(args)
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.SeparateChannels)
        environment = QProcessEnvironment.systemEnvironment()
        for key, value in (env or {}).items():
            environment.insert(key, value)
        self.process.setProcessEnvironment(environment)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self._buffer = ""
        self._stderr_tail: list[str] = []
        self._error_message: str | None = None
        self._cancelled = False
        self._failed_to_start = False
        self.lines: list[str] = []  # stdout lines that are not events (a JSON document, say)

    def start(self) -> None:
        self.process.start(sys.executable, ["-m", "labeltool", *self.args])

    def is_running(self) -> bool:
        return self.process.state() != QProcess.NotRunning

    @property
    def cancelled(self) -> bool:
        """The user cancelled it (its failure is not an error to report)."""
        return self._cancelled

    def cancel(self) -> None:
        """Ask the child to stop (SIGTERM: a trainer keeps its last checkpoint); kill it if it does not."""
        if not self.is_running():
            return
        self._cancelled = True
        self.process.terminate()
        if not self.process.waitForFinished(5000):
            self.process.kill()

    def wait(self, ms: int = 10000) -> bool:
        return not self.is_running() or self.process.waitForFinished(ms)

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            event = parse_event(line)
            if event is None:
                self.lines.append(line)
                continue
            if event.get("event") == "error":
                self._error_message = str(event.get("message", f"{self.what} failed"))
            self.on_event(event)
            self.event.emit(event)

    def on_event(self, event: dict) -> None:
        """Subclasses keep what they need of an event."""

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self._stderr_tail = (self._stderr_tail + text.splitlines())[-20:]

    def _error(self, error) -> None:
        if error == QProcess.FailedToStart:
            self._failed_to_start = True
            self.finished.emit(False, f"could not start {self.what} ({self.process.errorString()})")

    def failure_text(self, code: int) -> str:
        lines = [line for line in self._stderr_tail if line.strip()]
        return self._error_message or (lines[-1] if lines else f"exit code {code}")

    def _finished(self, code: int, status) -> None:
        if self._failed_to_start:
            return
        self._read_stdout()
        if self._buffer.strip():
            self.lines.append(self._buffer)
            self._buffer = ""
        self.done(code)

    def done(self, code: int) -> None:
        if self._cancelled:
            self.finished.emit(False, f"{self.what.capitalize()} cancelled")
        elif code == 0:
            self.finished.emit(True, "")
        else:
            self.finished.emit(False, f"{self.what.capitalize()} failed: {self.failure_text(code)}")


class TrainProcess(JsonLinesProcess):
    """`labeltool train DATASET --json` in a child process, its events turned into Qt signals."""

    what = "training"

    def __init__(self, dataset: str, extra_args: list[str] | None = None, parent: QObject | None = None):
        super().__init__(["train", dataset, "--json", *(extra_args or [])], parent,
                         env={"LABELTOOL_TRAIN_HOLDER": APP_HOLDER})
        self.dataset = dataset
        self.extra_args = extra_args or []
        self._model: str | None = None
        self.result: dict | None = None  # the done event

    def on_event(self, event: dict) -> None:
        if event.get("event") == "done":
            self._model = str(event.get("model", ""))
            self.result = event

    def done(self, code: int) -> None:
        if self._cancelled:
            self.finished.emit(False, "Training cancelled")
        elif code == 0 and self._model:
            self.finished.emit(True, self._model)
        else:
            self.finished.emit(False, f"Training failed: {self.failure_text(code)}")


class ProposeProcess(JsonLinesProcess):
    """`labeltool predict DATASET --json` in a child process, reporting each image as it is written."""

    what = "proposing"
    progress = Signal(int, int, str)  # done, total, name
    proposed_one = Signal(str)  # an image whose proposal was just written

    def __init__(self, dataset: str, names: list[str] | None = None, parent: QObject | None = None,
                 extra_args: list[str] | None = None):
        args = ["predict", dataset, "--json", *(extra_args or [])]
        self._names_file = None
        if names is not None:
            if len(names) > MAX_ARGV_NAMES:
                handle = tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="labeltool-names-", delete=False)
                with handle:
                    handle.write("\n".join(names) + "\n")
                self._names_file = handle.name
                args += ["--only-from", handle.name]
            else:
                args += ["--only", *names] if names else ["--only-from", os.devnull]
        super().__init__(args, parent)
        self.written: list[str] = []
        self.failed_names: list[str] = []

    def on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "predicted":
            name = str(event.get("name", ""))
            self.progress.emit(int(event.get("done") or 0), int(event.get("total") or 0), name)
            if event.get("written", True):
                self.proposed_one.emit(name)
        elif kind == "done":
            self.written = [str(n) for n in event.get("written") or []]
            self.failed_names = [str(n) for n in event.get("failed") or []]

    def done(self, code: int) -> None:
        if self._names_file:
            try:
                os.unlink(self._names_file)
            except OSError:
                pass
        super().done(code)


class EvaluateProcess(JsonLinesProcess):
    """`labeltool models DATASET --evaluate NAME --json`: per-class IoU and confusion matrix of one model."""

    what = "evaluation"

    def __init__(self, dataset: str, model: str, parent: QObject | None = None):
        super().__init__(["models", dataset, "--evaluate", model, "--json"], parent)
        self.result: dict | None = None

    def done(self, code: int) -> None:
        if code == 0 and not self._cancelled:
            try:
                self.result = json.loads("\n".join(self.lines))
            except ValueError:
                self.result = None
            if isinstance(self.result, dict):
                self.finished.emit(True, "")
                return
        super().done(code if code else 1)


class AuditProcess(JsonLinesProcess):
    """`labeltool audit DATASET --json`: a held-out model checks the corrected masks, image by image."""

    what = "the audit"
    progress = Signal(int, int, str)  # done, total, name

    def __init__(self, dataset: str, parent: QObject | None = None):
        super().__init__(["audit", dataset, "--json"], parent)
        self.result: dict | None = None  # the done event

    def on_event(self, event: dict) -> None:
        if event.get("event") == "audited":
            self.progress.emit(int(event.get("done") or 0), int(event.get("total") or 0), str(event.get("name", "")))
        elif event.get("event") == "done":
            self.result = event

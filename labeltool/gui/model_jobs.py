"""The model work of one window, one job at a time: proposing in a worker thread, retraining in a child
process (`labeltool train DATASET --json`) followed through its progress events."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from labeltool.gui.workers import ProposeWorker, TrainProcess
from labeltool.train_progress import TrainProgress
from model.project import Project


class ModelJobs(QObject):
    message = Signal(str, int)  # status line, timeout in ms (0: until replaced)
    progress = Signal(int, int)  # value, maximum (0: busy without a measure)
    proposed = Signal(list)  # names written
    trained = Signal(str)  # the new model's path
    failed = Signal(str, str)  # title, message for the user
    finished = Signal()  # a job ended, whatever its outcome

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.proposer: ProposeWorker | None = None
        self.trainer: TrainProcess | None = None
        self.train_args: list[str] = []  # extra `labeltool train` options; empty = the one-click defaults
        self._progress: TrainProgress | None = None

    def busy(self) -> bool:
        return (self.proposer is not None and self.proposer.isRunning()) or (
            self.trainer is not None and self.trainer.is_running())

    def propose(self, project: Project, names: list[str] | None = None) -> None:
        self.proposer = ProposeWorker(project, names, self)
        self.proposer.progress.connect(self._propose_progress)
        self.proposer.succeeded.connect(self._propose_done)
        self.proposer.failed.connect(lambda message: self.failed.emit("Propose", message))
        self.proposer.finished.connect(self.finished)
        self.message.emit("Proposing…", 0)
        self.progress.emit(0, 0)
        self.proposer.start()

    def retrain(self, project: Project, corrected: int) -> None:
        self.trainer = TrainProcess(str(project.root), self.train_args, parent=self)
        self._progress = TrainProgress()
        self.trainer.event.connect(self._train_event)
        self.trainer.finished.connect(self._train_finished)
        self.message.emit(f"Training on {corrected} corrected images…", 0)
        self.progress.emit(0, 0)
        self.trainer.start()

    def cancel(self) -> None:
        if self.proposer is not None and self.proposer.isRunning():
            self.proposer.cancel()
        if self.trainer is not None:
            self.trainer.cancel()

    def shutdown(self) -> None:
        """On closing the window: stop the trainer, let a proposal finish its current image."""
        self.cancel()
        if self.proposer is not None and self.proposer.isRunning():
            self.proposer.wait(10000)

    def _propose_progress(self, done: int, total: int, name: str) -> None:
        self.progress.emit(done, max(total, 1))
        self.message.emit(f"Proposed {done}/{total}: {name}", 0)

    def _propose_done(self, written: list) -> None:
        self.message.emit(f"Proposed masks for {len(written)} images", 8000)
        self.proposed.emit(written)

    def _train_event(self, event: dict) -> None:
        text = self._progress.update(event)
        if event.get("event") in ("step", "epoch_end"):
            self.progress.emit(self._progress.value, 1000)
        if text:
            self.message.emit(text, 8000 if event.get("event") == "notice" else 0)

    def _train_finished(self, ok: bool, message: str) -> None:
        self.trainer = None
        self.finished.emit()
        if ok:
            self.trained.emit(message)
            return
        self.message.emit(message, 10000)
        if "cancel" not in message.lower():
            self.failed.emit("Retrain", message)

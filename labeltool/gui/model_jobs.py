"""The model work of one window, one job at a time, each in a child process: proposing
(`labeltool predict DATASET --json`, reported image by image), retraining (`labeltool train DATASET --json`,
followed through its progress events), evaluating a model (`labeltool models DATASET --evaluate`) and auditing the
corrected masks with a held-out model (`labeltool audit DATASET --json`)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from labeltool.gui.workers import AuditProcess, EvaluateProcess, ProposeProcess, TrainProcess
from labeltool.workspace.retrain import options_to_args, retrain_options
from labeltool.workspace.train_progress import TrainProgress
from model.project.project import Project


class ModelJobs(QObject):
    message = Signal(str, int)  # status line, timeout in ms (0: until replaced)
    progress = Signal(int, int)  # value, maximum (0: busy without a measure)
    proposed = Signal(list)  # names written
    proposed_one = Signal(str)  # one proposal written (the list fills as a run goes)
    trained = Signal(str)  # the new model's path
    train_event = Signal(dict)  # every progress event of a retrain (the live chart)
    train_started = Signal(object)  # the TrainProgress that follows the new run
    models_changed = Signal()  # a retrain saved a model (the Models panel refreshes)
    evaluated = Signal(dict)  # `labeltool models --evaluate` result
    audited = Signal(dict)  # `labeltool audit` done event
    failed = Signal(str, str)  # title, message for the user
    finished = Signal()  # a job ended, whatever its outcome
    started = Signal(str)  # "propose" or "retrain": a job that writes proposals or changes the model began

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.proposer: ProposeProcess | None = None
        self.trainer: TrainProcess | None = None
        self.evaluator: EvaluateProcess | None = None
        self.auditor: AuditProcess | None = None
        self.train_args: list[str] = []  # extra `labeltool train` options; empty = the saved Retrain options
        self.train_progress: TrainProgress | None = None
        self.last_result: dict | None = None  # the last retrain's done event

    def busy(self) -> bool:
        return any(job is not None and job.is_running() for job in (self.proposer, self.trainer, self.evaluator,
                                                                  self.auditor))

    # ---- propose -------------------------------------------------------------------------------
    def propose(self, project: Project, names: list[str] | None = None) -> None:
        self.proposer = ProposeProcess(str(project.root), names, self)
        self.proposer.progress.connect(self._propose_progress)
        self.proposer.proposed_one.connect(self.proposed_one)
        self.proposer.finished.connect(self._propose_finished)
        self.message.emit("Proposing…", 0)
        self.progress.emit(0, 0)
        self.started.emit("propose")
        self.proposer.start()

    def _propose_progress(self, done: int, total: int, name: str) -> None:
        self.progress.emit(done, max(total, 1))
        self.message.emit(f"Proposed {done}/{total}: {name}", 0)

    def _propose_finished(self, ok: bool, message: str) -> None:
        proposer, self.proposer = self.proposer, None
        written = list(proposer.written) if proposer is not None else []
        if ok:
            failed = proposer.failed_names if proposer is not None else []
            extra = f"; {len(failed)} unreadable images skipped" if failed else ""
            self.message.emit(f"Proposed masks for {len(written)} images{extra}", 8000)
        else:
            self.message.emit(message, 10000)
        self.finished.emit()
        if ok or written:
            self.proposed.emit(written)
        if not ok and not (proposer is not None and proposer.cancelled):
            self.failed.emit("Propose", message)

    # ---- retrain -------------------------------------------------------------------------------
    def retrain(self, project: Project, corrected: int) -> None:
        args = self.train_args or options_to_args(retrain_options(project))
        self.trainer = TrainProcess(str(project.root), args, parent=self)
        self.train_progress = TrainProgress()
        self.trainer.event.connect(self._train_event)
        self.trainer.finished.connect(self._train_finished)
        self.message.emit(f"Training on {corrected} corrected images…", 0)
        self.progress.emit(0, 0)
        self.train_started.emit(self.train_progress)
        self.started.emit("retrain")
        self.trainer.start()

    def _train_event(self, event: dict) -> None:
        text = self.train_progress.update(event)
        if event.get("event") in ("step", "epoch_end"):
            self.progress.emit(self.train_progress.value, 1000)
        if text:
            self.message.emit(text, 8000 if event.get("event") == "notice" else 0)
        self.train_event.emit(event)

    def _train_finished(self, ok: bool, message: str) -> None:
        trainer, self.trainer = self.trainer, None
        self.finished.emit()
        if ok:
            self.last_result = trainer.result if trainer is not None else None
            self.models_changed.emit()
            self.trained.emit(message)
            result = self.last_result or {}
            if result.get("promoted") is False:
                self.message.emit(f"The new model was not promoted: {result.get('active')} keeps proposing "
                                  "(see the Models panel)", 15000)
            return
        self.message.emit(message, 10000)
        if not (trainer is not None and trainer.cancelled):
            self.failed.emit("Retrain", message)

    # ---- evaluate ------------------------------------------------------------------------------
    def evaluate(self, project: Project, model: str = "active") -> None:
        self.evaluator = EvaluateProcess(str(project.root), model, self)
        self.evaluator.finished.connect(self._evaluate_finished)
        self.message.emit(f"Evaluating {model}…", 0)
        self.progress.emit(0, 0)
        self.evaluator.start()

    def _evaluate_finished(self, ok: bool, message: str) -> None:
        evaluator, self.evaluator = self.evaluator, None
        self.finished.emit()
        if ok and evaluator is not None and evaluator.result is not None:
            self.message.emit(f"Evaluated {evaluator.result.get('model')}", 8000)
            self.evaluated.emit(evaluator.result)
            return
        self.message.emit(message, 10000)
        if not (evaluator is not None and evaluator.cancelled):
            self.failed.emit("Evaluate", message)

    # ---- audit ---------------------------------------------------------------------------------
    def audit(self, project: Project) -> None:
        self.auditor = AuditProcess(str(project.root), self)
        self.auditor.progress.connect(lambda done, total, name: (self.progress.emit(done, max(total, 1)),
                                                                 self.message.emit(f"Audited {done}/{total}: {name}", 0)))
        self.auditor.finished.connect(self._audit_finished)
        self.message.emit("Auditing the corrected masks with a held-out model…", 0)
        self.progress.emit(0, 0)
        self.auditor.start()

    def _audit_finished(self, ok: bool, message: str) -> None:
        auditor, self.auditor = self.auditor, None
        self.finished.emit()
        if ok and auditor is not None and auditor.result is not None:
            self.audited.emit(auditor.result)
            return
        self.message.emit(message, 10000)
        if not (auditor is not None and auditor.cancelled):
            self.failed.emit("Audit", message)

    # ---- all -----------------------------------------------------------------------------------
    def cancel(self) -> None:
        for job in (self.proposer, self.trainer, self.evaluator, self.auditor):
            if job is not None:
                job.cancel()

    def shutdown(self) -> None:
        """On closing the window: stop every child (a trainer keeps its checkpoint)."""
        self.cancel()

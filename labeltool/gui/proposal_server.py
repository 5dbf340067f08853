"""Proposals ahead of the annotator: the window's long-lived proposal child.

While a person corrects one image the CPU is mostly idle. ``ProposalsAhead`` keeps one child process,
``labeltool predict DATASET --json --serve`` (labeltool/commands/predict.py; the model work is
model.inference.prefetch.Prefetcher there, at a lower CPU priority), and after every image change or Accept
sends it the plan: the image on screen when it has no correction and no edits, then the next ``ahead``
images without a correction in the list's current order and filter. For each proposal written the
child says ``{"event": "proposed", "name": ...}``; the window then decodes that image again in the
background (``MainWindow.proposal_written``), so the image after Accept opens with its proposal already
drawn, and the image on screen shows its proposal when untouched (offered, never swapped over edits).
When a save makes an image corrected (Accept, Mark corrected), the child is told (``{"accepted": [name]}``) and
proposes the next frames of its sequence again from its warp first (model.inference.prefetch.after_accept).

The child runs only while a writable project with a model is open; it is stopped while a retrain or a
batch proposal run is going (a retrain changes the model) and started again after. Its crash is one
status-bar line; the app works without it. ``ahead = 0`` proposes only the image on screen (on demand).
The environment variable LABELTOOL_PROPOSE_AHEAD sets ``ahead`` (a number) or turns the child off (``off``).
"""

from __future__ import annotations

import json
import os

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from labeltool.gui.futures import future_signals
from labeltool.gui.workers import JsonLinesProcess
from labeltool.workspace.plan import accepted_message, has_model, proposal_plan

AHEAD = 2  # images proposed ahead of the one on screen (LABELTOOL_PROPOSE_AHEAD=N changes it; =off: no child)
STOP_MS = 5000  # a child that does not end this long after its stdin closed is killed


class ServeProcess(JsonLinesProcess):
    """`labeltool predict DATASET --json --serve`: plans go to its stdin, ``proposed(name)`` comes back."""

    what = "proposing ahead"
    proposed = Signal(str)  # an image whose proposal was just written
    ready = Signal()  # the child started and loaded its project

    def __init__(self, dataset: str, parent: QObject | None = None, extra_args: list[str] | None = None):
        super().__init__(["predict", dataset, "--json", "--serve", *(extra_args or [])], parent)
        self.dataset = dataset
        self.stopping = False
        self.started = False
        self.sent: list[dict] = []  # messages written to its stdin (tests)

    def on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "proposed":
            self.proposed.emit(str(event.get("name", "")))
        elif kind == "start":
            self.started = True
            self.ready.emit()

    def send(self, message: dict) -> bool:
        if not self.is_running() or self.stopping:
            return False
        self.sent.append(message)
        self.process.write((json.dumps(message) + "\n").encode("utf-8"))
        return True

    def stop(self) -> None:
        """Close its stdin (it finishes the image in hand and exits); killed if it has not after STOP_MS."""
        if not self.is_running() or self.stopping:
            return
        self.stopping = True
        self.process.closeWriteChannel()
        QTimer.singleShot(STOP_MS, self._kill_if_running)

    def _kill_if_running(self) -> None:
        if self.process.state() != QProcess.NotRunning:
            self.process.kill()


class ProposalsAhead(QObject):
    """The window's proposal child and its plans; see the module docstring."""

    message = Signal(str, int)  # status line, timeout in ms

    def __init__(self, window, ahead: int = AHEAD):
        super().__init__(window)
        self.window = window
        setting = os.environ.get("LABELTOOL_PROPOSE_AHEAD", "").strip().lower()
        self.enabled = setting != "off"
        self.ahead = max(0, int(setting) if setting.isdigit() else int(ahead))
        self.child: ServeProcess | None = None
        self.project = None
        self._paused = False
        self._crashed = False
        self._last_plan: list[str] | None = None
        self._futures = future_signals(self)
        self._futures.done.connect(self._model_checked)
        window.jobs.started.connect(self.pause)
        window.jobs.finished.connect(lambda: QTimer.singleShot(0, self.resume))
        window.imageShown.connect(lambda *_: self.send_plan())
        window.files.orderChanged.connect(lambda *_: self.send_plan())
        window.files.filterChanged.connect(self.send_plan)

    # ---- the child's life ----------------------------------------------------------------------
    def set_project(self, project, read_only: bool = False) -> None:
        """A folder was opened (None: closed): the old child stops; one starts when the project has a model."""
        self.stop()
        self.project = None if read_only else project
        self._crashed = False
        self._start_when_model()

    def _start_when_model(self) -> None:
        project = self.project
        if project is None or not self.enabled or self._paused or self.running():
            return
        self._futures.watch(self.window.loader.submit(has_model, project), project)

    def _model_checked(self, project, future) -> None:
        if project is not self.project or future.cancelled() or future.exception() is not None or not future.result():
            return
        if self._paused or self.running() or self.window.jobs.busy():
            return
        self.child = ServeProcess(str(project.root), self)
        self.child.proposed.connect(self._proposed)
        self.child.ready.connect(self.send_plan)
        self.child.finished.connect(lambda ok, text, child=self.child: self._child_finished(child, ok, text))
        self._last_plan = None
        self.child.start()

    def shutdown(self, wait_ms: int = 3000) -> None:
        """The window closes: stop the child and give it a moment to finish the proposal in hand."""
        child = self.child
        self.set_project(None)
        if child is not None:
            child.wait(wait_ms) or child.process.kill()

    def running(self) -> bool:
        return self.child is not None and self.child.is_running() and not self.child.stopping

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
        self.child = None
        self._last_plan = None

    def pause(self, *_args) -> None:
        """A retrain or batch proposal run started: the child stops (the model may change)."""
        self._paused = True
        self.stop()

    def resume(self) -> None:
        """The job ended: start again (a new model is loaded afresh), unless another job follows."""
        if self.window.jobs.busy():
            return
        self._paused = False
        self._crashed = False
        self._start_when_model()

    def _child_finished(self, child: ServeProcess, ok: bool, text: str) -> None:
        if child is self.child:
            self.child = None
        if child.stopping or ok or self._crashed:
            return
        self._crashed = True  # one line, once; the app works without it
        self.message.emit(f"Proposing ahead stopped ({text}); proposals come from Propose and Retrain", 15000)

    # ---- plans ---------------------------------------------------------------------------------
    def plan(self) -> list[str]:
        """The image on screen when untouched, then the next ``ahead`` (labeltool.workspace.plan.proposal_plan)."""
        window, session = self.window, self.window.session
        if session is None:
            return []
        return proposal_plan(session, window.shown, window.editor.is_dirty(), self.ahead)

    def send_plan(self) -> None:
        if not self.running() or self.child is None or not self.child.started:
            return
        plan = self.plan()
        if plan != self._last_plan:
            self._last_plan = plan
            self.child.send({"plan": plan})

    def took(self, name: str, status: str) -> None:
        """A save or status change of ``name`` was written (MainWindow._took): tell the child what was accepted."""
        message = accepted_message(name, status)
        if message is not None and self.running() and self.child is not None and self.child.started:
            self.child.send(message)

    def _proposed(self, name: str) -> None:
        self._last_plan = None  # statuses changed: the next plan is sent even if it looks the same
        self.window.proposal_written(name)

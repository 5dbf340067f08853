"""The window's model docks, added by ``install(window)`` (MainWindow.install_panels calls it):

- **Models**: every model with its figures and marks; promote, pin, roll back, delete; per-class IoU and
  confusion matrix of any model (labeltool/gui/models_panel.py);
- **Training**: the live chart of the running retrain with its ETA (labeltool/gui/train_chart.py);
- a **Retrain options…** menu action (labeltool/gui/retrain_dialog.py).

Everything goes through ``window.jobs`` (ModelJobs) signals and ``window.session.project``.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget

from labeltool.gui.window_actions import window_menu

SYNC_MS = 1000  # how often the docks check which folder the window has open


DOCK_SHARE = 0.26  # of the window's height, for the Models/Training docks at start
DOCK_MIN_HEIGHT = 160


class ModelDocks(QObject):
    def __init__(self, window):
        super().__init__(window)
        from labeltool.gui.models_panel import ModelsPanel
        from labeltool.gui.train_chart import TrainChart

        self.window = window
        self.jobs = window.jobs
        self.panel = ModelsPanel()
        self.chart = TrainChart()
        # both below the editor, as tabs: on the right the Models table made the window wider than a
        # 1600-px screen (found under Xvfb)
        self.models_dock = self._dock("Models", self.panel, Qt.BottomDockWidgetArea, "modelsDock")
        self.chart_dock = self._dock("Training", self.chart, Qt.BottomDockWidgetArea, "trainingDock")
        window.tabifyDockWidget(self.models_dock, self.chart_dock)
        self.chart_dock.hide()  # shown when a retrain starts
        QTimer.singleShot(0, self._initial_height)  # once the window has its size
        self._root = None
        self._models_stamp = None
        self.jobs.train_started.connect(self._train_started)
        self.jobs.train_event.connect(self.chart.on_event)
        self.jobs.models_changed.connect(self.panel.refresh)
        self.jobs.evaluated.connect(self.panel.show_evaluation)
        self.panel.evaluate_requested.connect(self._evaluate)
        self.panel.changed.connect(self._changed)
        self.options_action = QAction("Retrain options…", window)
        self.options_action.setToolTip("Architecture, encoder, time budget and working scale of the next retrains")
        self.options_action.triggered.connect(self.edit_options)
        self._add_menu()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.sync)
        self._timer.start(SYNC_MS)
        self.sync()

    def _initial_height(self) -> None:
        """The bottom docks start at about a quarter of the window's height: at 1280x800 they took more
        than half and left the image a strip (found under Xvfb). The person can drag them taller."""
        height = max(DOCK_MIN_HEIGHT, int(self.window.height() * DOCK_SHARE))
        self.window.resizeDocks([self.models_dock, self.chart_dock], [height, height], Qt.Vertical)

    def _dock(self, title, widget, area, name) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.window.addDockWidget(area, dock)
        return dock

    def _add_menu(self) -> None:
        menu = window_menu(self.window, "model", "models")
        if menu is None:
            menu = self.window.menuBar().addMenu("&Models")
        menu.addAction(self.options_action)
        menu.addAction(self.models_dock.toggleViewAction())
        menu.addAction(self.chart_dock.toggleViewAction())

    def project(self):
        session = getattr(self.window, "session", None)
        return getattr(session, "project", None)

    def sync(self) -> None:
        """Follow the open folder; re-read the models when their folder changed (a terminal, say)."""
        project = self.project()
        root = getattr(project, "root", None)
        stamp = None
        if project is not None:
            from model.registry.registry import REGISTRY_FILE

            models_dir = project.models_dir
            try:
                stamp = (models_dir.stat().st_mtime_ns, (models_dir / REGISTRY_FILE).stat().st_mtime_ns)
            except OSError:
                stamp = None
        self.panel.codes = getattr(project, "codes", None)  # a model made for other classes: "classes differ"
        if root != self._root:
            self._root, self._models_stamp = root, stamp
            self.panel.set_dataset(root)
        elif stamp != self._models_stamp:
            self._models_stamp = stamp
            self.panel.refresh()
        self.options_action.setEnabled(project is not None)

    def _train_started(self, progress) -> None:
        self.chart.start(progress)
        self.chart_dock.show()
        self.chart_dock.raise_()

    def _evaluate(self, name: str) -> None:
        project = self.project()
        if project is None:
            return
        if self.jobs.busy():
            self.panel.status.setText("Another job is running; evaluate when it has finished")
            return
        self.jobs.evaluate(project, name)

    def _changed(self) -> None:
        status = self.window.statusBar()
        status.showMessage(self.panel.status.text(), 8000)

    def edit_options(self) -> None:
        from labeltool.gui.retrain_dialog import RetrainDialog

        project = self.project()
        if project is None:
            return
        dialog = RetrainDialog(project, self.window)
        if dialog.exec():
            chosen = dialog.options()
            text = ", ".join(f"{k} {v}" for k, v in chosen.items()) or "the defaults"
            self.window.statusBar().showMessage(f"Next retrains use {text}", 8000)


def install(window) -> ModelDocks:
    """Add the Models and Training docks and the Retrain options action to the main window."""
    docks = ModelDocks(window)
    window.model_docks = docks
    return docks

"""The main window: file list, editor, and the propose → correct → retrain → re-propose loop."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QToolBar

from labeltool.gui.editor import EditorWidget
from labeltool.gui.file_list import FileList
from labeltool.gui.model_jobs import ModelJobs
from labeltool.session import Session
from model.errors import LabeltoolError
from model.project import NeedsCodesError, Project

AUTOSAVE_IDLE_MS = 2000


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("labeltool")
        self.session: Session | None = None
        self.jobs = ModelJobs(self)
        self.jobs.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.jobs.progress.connect(self._job_progress)
        self.jobs.proposed.connect(self._proposed)
        self.jobs.trained.connect(self._trained)
        self.jobs.failed.connect(lambda title, text: QMessageBox.warning(self, title, text))
        self.jobs.finished.connect(self._job_finished)
        self.editor = EditorWidget(self)
        self.setCentralWidget(self.editor)
        self.files = FileList(self)
        dock = QDockWidget("Images", self)
        dock.setObjectName("images")
        dock.setWidget(self.files)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        self.cursor_label = QLabel()
        self.statusBar().addWidget(self.cursor_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.autosave = QTimer(self)
        self.autosave.setSingleShot(True)
        self.autosave.setInterval(AUTOSAVE_IDLE_MS)
        self.autosave.timeout.connect(self.save)
        self.editor.edited.connect(self.autosave.start)
        self.editor.dirtyChanged.connect(self._update_title)
        self.editor.statusMessage.connect(self.cursor_label.setText)
        self.editor.paletteChanged.connect(self._palette_changed)
        self.files.activated.connect(self.go_to)
        self._build_actions()
        self._update_enabled()

    # ---- actions -------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.WindowShortcut)
        action.setToolTip(f"{tip or text} ({', '.join(shortcuts)})" if shortcuts else (tip or text))
        action.triggered.connect(lambda *_: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self.actions_by_name = {
            "open": self._action("Open folder…", self.ask_open_folder, ["Ctrl+O"]),
            "save": self._action("Save", self.save, ["Ctrl+S"]),
            "accept": self._action("Accept", self.accept_and_next, ["Return", "Enter"],
                                   "Mark this mask corrected and go to the next image"),
            "prev": self._action("◀ Previous", lambda: self.step(-1), ["PgUp", "A"]),
            "next": self._action("Next ▶", lambda: self.step(1), ["PgDown", "D"]),
            "next_todo": self._action("Next to correct", self.next_to_correct, ["N"],
                                      "Next image without a corrected mask"),
            "propose": self._action("Propose", self.propose,
                                    tip="Let the newest model propose masks for images without a corrected mask"),
            "retrain": self._action("Retrain on my corrections", self.retrain,
                                    tip="Fine-tune the model on the corrected images, then re-propose the rest"),
            "cancel": self._action("Cancel", lambda: self.jobs.cancel(), tip="Stop proposing or training"),
        }
        bar = QToolBar("Main", self)
        bar.setObjectName("main")
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for key in ("open", "save", "prev", "accept", "next", "next_todo", "propose", "retrain", "cancel"):
            bar.addAction(a[key])
        self.addToolBar(Qt.TopToolBarArea, bar)
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for key in ("open", "save"):
            file_menu.addAction(a[key])
        file_menu.addSeparator()
        file_menu.addAction(self._action("Quit", self.close, ["Ctrl+Q"]))
        go = menu.addMenu("&Go")
        for key in ("prev", "next", "next_todo", "accept"):
            go.addAction(a[key])
        model_menu = menu.addMenu("&Model")
        for key in ("propose", "retrain", "cancel"):
            model_menu.addAction(a[key])
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("Shortcuts", self.editor.show_shortcuts, ["F1"]))

    # ---- opening -------------------------------------------------------------------------------
    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a dataset folder")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str) -> bool:
        self.save()
        try:
            project = Project.open(folder)
        except NeedsCodesError:
            from labeltool.gui.classes_dialog import ClassesDialog

            dialog = ClassesDialog(folder, self)
            if not dialog.exec():
                return False
            project = Project.open(folder, codes=dialog.names)
        except LabeltoolError as exc:
            QMessageBox.critical(self, "Cannot open folder", str(exc))
            return False
        self.session = Session(project)
        self.setWindowTitle(f"labeltool — {project.root}")
        for warning in project.warnings:
            self.statusBar().showMessage(warning, 8000)
        self.refresh_list(repopulate=True)
        if project.names():
            self.go_to(0)
        else:
            self.statusBar().showMessage(f"No images in {project.images_dir}", 8000)
        self._update_enabled()
        return True

    def refresh_list(self, repopulate: bool = False) -> None:
        if self.session is None:
            return
        from model.propose import read_uncertainty

        project = self.session.project
        statuses = project.statuses()
        confidence = read_uncertainty(project)
        if repopulate:
            self.files.populate(self.session.names, statuses, confidence)
        else:
            self.files.update_statuses(self.session.names, statuses, confidence)

    # ---- navigation and saving -----------------------------------------------------------------
    def go_to(self, index: int) -> None:
        if self.session is None or not 0 <= index < len(self.session.names):
            return
        if index == self.session.index:  # already open (a new Session starts at -1)
            return
        if not self.save():
            return
        try:
            loaded = self.session.load(index)
        except LabeltoolError as exc:
            QMessageBox.warning(self, "Cannot open image", str(exc))
            return
        project = self.session.project
        self.editor.load(loaded.image, loaded.mask, project.codes, project.palette, project.void_index)
        self.editor.set_confidence(self._confidence(loaded.name) if loaded.status == "proposed" else None)
        self.files.select(index)
        self.editor.canvas.setFocus()  # tool keys (B, F, 1-9…) work right after picking an image in the list
        self._update_title()

    def _confidence(self, name: str):
        from model.propose import read_confidence

        try:
            path = self.session.project.confidence_path(name)
            return read_confidence(path) if path.exists() else None
        except (LabeltoolError, OSError, ValueError):
            return None

    def step(self, delta: int) -> None:
        if self.session is not None:
            target = self.session.step(delta)
            if target is not None:
                self.go_to(target)

    def next_to_correct(self) -> None:
        if self.session is None:
            return
        target = self.session.next_not_corrected()
        if target is None:
            self.statusBar().showMessage("Every image has a corrected mask", 5000)
        else:
            self.go_to(target)

    def save(self) -> bool:
        """Save the mask on screen if it changed; True when nothing is left unsaved."""
        self.autosave.stop()
        if self.session is None or self.session.current is None or not self.editor.is_dirty():
            return True
        try:
            self.session.save(self.editor.mask())
        except (LabeltoolError, OSError) as exc:
            QMessageBox.critical(self, "Could not save", f"{exc}\n\nYour edits are still on screen.")
            return False
        self.editor.mark_saved()
        self.refresh_list()
        self.statusBar().showMessage(f"Saved {self.session.project.label_path(self.session.current).name}", 3000)
        return True

    def accept_and_next(self) -> None:
        if self.session is None or self.session.current is None:
            return
        self.autosave.stop()
        try:
            accepted = self.session.accept(self.editor.mask(), self.editor.is_dirty())
        except (LabeltoolError, OSError) as exc:
            QMessageBox.critical(self, "Could not save", str(exc))
            return
        if not accepted:
            self.statusBar().showMessage("Nothing to accept: this image has no mask yet (paint one or Propose)", 5000)
            return
        self.editor.mark_saved()
        self.refresh_list()
        self.next_to_correct()

    def _palette_changed(self, palette) -> None:
        if self.session is not None:
            self.session.project.set_palette(palette)

    # ---- model work ----------------------------------------------------------------------------
    def propose(self, names: list[str] | None = None) -> None:
        if self.session is None or self.jobs.busy():
            return
        self.save()
        from model.modelfile import latest_model

        if latest_model(self.session.project.models_dir) is None:
            QMessageBox.information(self, "Propose", "There is no model yet. Label a few images (paint, then "
                                    "Enter to accept), then click \"Retrain on my corrections\": the new model "
                                    "proposes the rest.")
            return
        self.jobs.propose(self.session.project, names)
        self._update_enabled()

    def retrain(self) -> None:
        if self.session is None or self.jobs.busy():
            return
        self.save()
        corrected = self.session.project.corrected_names()
        if not corrected:
            QMessageBox.information(self, "Retrain", "No corrected masks yet: correct and accept a few images first.")
            return
        self.jobs.retrain(self.session.project, len(corrected))
        self._update_enabled()

    def _proposed(self, written: list) -> None:
        self.refresh_list()
        current = self.session.current if self.session else None
        if current in written and not self.editor.is_dirty():  # show the new proposal of the open image
            loaded = self.session.load(self.session.index)
            project = self.session.project
            self.editor.load(loaded.image, loaded.mask, project.codes, project.palette, project.void_index)
            self.editor.set_confidence(self._confidence(current))

    def _trained(self, model_path: str) -> None:
        self.statusBar().showMessage(f"New model {Path(model_path).name}; re-proposing the other images…", 8000)
        self.propose()

    def _job_progress(self, value: int, maximum: int) -> None:
        self.progress.setMaximum(maximum)
        self.progress.setValue(value)
        self.progress.show()

    def _job_finished(self) -> None:
        self.progress.hide()
        self._update_enabled()

    def _update_enabled(self) -> None:
        has = self.session is not None
        busy = self.jobs.busy()
        for key in ("save", "accept", "prev", "next", "next_todo"):
            self.actions_by_name[key].setEnabled(has)
        self.actions_by_name["propose"].setEnabled(has and not busy)
        self.actions_by_name["retrain"].setEnabled(has and not busy)
        self.actions_by_name["cancel"].setEnabled(busy)

    def _update_title(self, *_args) -> None:
        if self.session is None or self.session.current is None:
            return
        dirty = "● " if self.editor.is_dirty() else ""
        status = self.session.project.status(self.session.current)
        self.setWindowTitle(f"{dirty}{self.session.current} ({status}) — labeltool — {self.session.project.root}")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.save()  # unsaved edits are saved, no blocking dialog
        self.jobs.shutdown()
        super().closeEvent(event)

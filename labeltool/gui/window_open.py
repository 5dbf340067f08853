"""Opening a dataset folder in the main window: scanned on a worker thread while the window keeps answering,
the classes asked for when the folder has none, and one window per folder unless the person says otherwise
(labeltool.workspace.folder_lock). ``Opening`` is a part of MainWindow (a mixin).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from labeltool.workspace.folder_lock import FolderLock
from model.errors import LabeltoolError
from model.project.project import NeedsCodesError


class Opening:
    """MainWindow's Open folder (see the module docstring)."""

    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a dataset folder")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str) -> bool:
        """Open a dataset folder (scanned on a worker thread; the window stays responsive). False when
        it did not open, or when unsaved edits of the open folder stopped it."""
        if self._opening or self._closed:
            return False
        if not self.settle("open another folder"):
            return False
        self._opening = True
        self.editor.setEnabled(False)
        self._update_enabled()
        self.statusBar().showMessage(f"Opening {folder}…")
        again = ""
        try:
            try:
                opened = self._open_in_thread(folder)
            except NeedsCodesError:
                from labeltool.gui.classes_dialog import ClassesDialog

                dialog = ClassesDialog(folder, self)
                if not dialog.exec():
                    self.statusBar().clearMessage()
                    return False
                opened = self._open_in_thread(folder, dialog.names)
        except LabeltoolError as exc:
            self.statusBar().clearMessage()
            again = self.offer_codes_back(exc)  # codes.txt reordered by hand (labeltool/gui/window_classes.py)
            if not again:
                QMessageBox.critical(self, "Cannot open folder", str(exc))
                return False
        finally:
            self._opening = False
            self.editor.setEnabled(True)
            self._update_enabled()
        if again:  # codes.txt is back: open it, then say how to make the change on purpose
            reopened = self.open_folder(folder)
            if reopened:
                self.statusBar().showMessage(again, 15000)
            return reopened
        if self._closed:
            return False
        mode = self._lock_folder(opened.project)
        if mode is None:
            self.statusBar().showMessage("Not opened: another window has that folder open", 5000)
            return False
        if mode == "read_only":
            reason = "this window opened the folder read-only (another window has it open)"
        elif not opened.project.writable:
            reason = "the folder cannot be written here (see the warning when it opened)"
        else:
            reason = None
        self._switch_to(opened, read_only=reason)
        return True

    def _lock_folder(self, project) -> str | None:
        """"write", "read_only" or None (cancel): a second window on the same folder is told."""
        if self._lock is not None and self.session is not None and self.session.project.root == project.root:
            return "read_only" if self.read_only else "write"  # the folder this window has open already
        lock = FolderLock(Path(project.state_dir) / "app.lock")
        state = lock.acquire()  # held for as long as the window has the folder open
        if state == "held":
            self._release_lock()
            self._lock = lock
            return "write"
        if state == "unlockable":
            return "write"  # no lock possible here (read-only folder): the record says what can be saved
        choice = self.ask_second_instance(project.root, lock.holder())
        if choice in ("read_only", "continue"):
            self._release_lock()  # this window leaves the folder it had
        return {"read_only": "read_only", "continue": "write"}.get(choice)

    def ask_second_instance(self, root, who: str) -> str:
        """"read_only", "continue" or "cancel" (tests replace this)."""
        box = QMessageBox(QMessageBox.Warning, "Folder already open",
                          f"Another labeltool window ({who}) has {root} open.\n\n"
                          "Open it read-only to look without saving. If you continue, both windows can save: "
                          "each save is recorded, and a correction made in the other window is never replaced "
                          "without asking you first. Work on different images to avoid that question.", parent=self)
        read_only = box.addButton("Open read-only", QMessageBox.AcceptRole)
        go_on = box.addButton("Continue", QMessageBox.DestructiveRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(read_only)
        box.exec()
        clicked = box.clickedButton()
        return "read_only" if clicked is read_only else "continue" if clicked is go_on else "cancel"

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

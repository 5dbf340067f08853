"""Edit ▸ Change classes… in the main window (a mixin): ``labeltool classes`` without a terminal.

1. the dialog (labeltool/gui/class_change_dialog.py) plans a Change; the masks per class are counted on
   a worker thread meanwhile;
2. the edits on screen are saved first (or the person discards them on purpose: ``settle``);
3. the plan (a dry run: images, pixels, which become edited) is worked out on a worker thread and shown;
   the person confirms or nothing changes;
4. the change is made on a worker thread (model.project.class_journal.apply, under the dataset's lock,
   by a Project opened for it: the window's own keeps the old list, so a save with old class numbers
   is refused by the engine); the window keeps painting but takes no edits meanwhile;
5. the dataset is opened again: palette, list and Models panel (models on the old list: "classes
   differ") follow the new list.
The rules (which Change, when the window may) are labeltool.workspace.class_change's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox

from labeltool.gui.futures import wait_future
from labeltool.workspace import class_change
from model.errors import CodesError


class ClassChanges:
    """MainWindow's Change classes… (see the module docstring)."""

    def install_classes_action(self) -> None:
        action = QAction("Change classes…", self)
        action.setToolTip("Rename, add, merge, reorder or split classes: every mask is rewritten so that each "
                          "pixel keeps its meaning")
        action.triggered.connect(lambda *_: self.change_classes())
        self.actions_by_name["change_classes"] = action
        bar = self.menuBar()
        menus = [a for a in bar.actions() if a.menu() is not None]
        titles = [a.text().replace("&", "") for a in menus]
        if "Edit" in titles:
            menu = menus[titles.index("Edit")].menu()
        else:  # an Edit menu of its own, after File
            menu = QMenu("&Edit", self)
            after = titles.index("File") + 1 if "File" in titles else len(menus)
            if after < len(menus):
                bar.insertMenu(menus[after], menu)
            else:
                bar.addMenu(menu)
        menu.addAction(action)
        self.futures.done.connect(self._classes_future_done)
        self._class_change = None  # the Change under way (dry run or made)

    def class_change_refusal(self) -> str | None:
        if self._class_change is not None:
            return "a class-list change is under way"
        return class_change.change_refusal(self.session is not None, self.read_only, self.jobs.busy(), self._opening)

    def change_classes(self) -> None:
        """Edit ▸ Change classes…: the dialog, then (when it planned a change) the plan and the change."""
        refusal = self.class_change_refusal()
        if refusal:
            self.statusBar().showMessage(f"Cannot change the classes: {refusal}", 8000)
            return
        change = self.ask_class_change(self.session.project)
        if change is not None:
            self.start_class_change(change)

    def ask_class_change(self, project):
        """The Change the person planned in the dialog, or None (tests replace this)."""
        from labeltool.gui.class_change_dialog import ClassChangeDialog

        dialog = ClassChangeDialog(project.codes, project.palette, self)
        counting = self.loader.submit(class_change.class_counts, project)
        self.futures.watch(counting, ("class_counts", dialog))
        self._counting_dialog = dialog
        try:
            dialog.exec()
        finally:
            self._counting_dialog = None
        return dialog.change

    def start_class_change(self, change) -> bool:
        """Save the edits on screen, then work out the plan off the GUI thread (False: nothing started)."""
        refusal = self.class_change_refusal()
        if refusal:
            self.statusBar().showMessage(f"Cannot change the classes: {refusal}", 8000)
            return False
        if not self.settle("change the class list"):
            return False  # edits that could not be saved stay; nothing changed
        self._class_change = change
        self._class_busy(True, "Working out what the change does…")
        root = self.session.project.root
        self.futures.watch(self._open_pool.submit(class_change.run_change, root, change, True),
                           ("class_plan", change, root))
        return True

    def _class_busy(self, busy: bool, message: str = "") -> None:
        """While the plan or the change runs: no edits, no navigation, no closing (like opening a folder)."""
        self._opening = busy
        self.editor.setEnabled(not busy)
        self._update_enabled()
        if message:
            self.statusBar().showMessage(message)

    def _classes_future_done(self, tag, future) -> None:
        if self._closed or not isinstance(tag, tuple) or not tag or future.cancelled():
            return
        if tag[0] == "class_counts":
            if tag[1] is getattr(self, "_counting_dialog", None):
                tag[1].set_counts(None if future.exception() is not None else future.result())
        elif tag[0] == "class_plan":
            self._class_planned(tag[1], tag[2], future)
        elif tag[0] == "class_made":
            self._class_made(tag[1], tag[2], future)

    def _class_planned(self, change, root, future) -> None:
        self._class_busy(False)
        if future.exception() is not None:
            self._class_change = None
            self.statusBar().clearMessage()
            QMessageBox.warning(self, "Classes not changed", str(future.exception()))
            return
        lines = [line for line in future.result() if not line.startswith("dry run")]
        self.statusBar().clearMessage()
        if not self.confirm_class_change(change, lines):
            self._class_change = None
            self.statusBar().showMessage("Classes not changed", 5000)
            return
        self._class_busy(True, f"Changing the classes ({change.summary})…")
        self.proposals.set_project(None)  # the proposal child works for the old list: it stops
        self.futures.watch(self._open_pool.submit(class_change.run_change, root, change, False),
                           ("class_made", change, root))

    def confirm_class_change(self, change, lines: list[str]) -> bool:
        """The plan shown; True when the person confirms (tests replace this)."""
        shown = lines[1:4] + (lines[-1:] if change.split else [])  # the lists, the counts, what a split does
        box = QMessageBox(QMessageBox.Question, "Change classes",
                          f"{change.op}: {change.summary}\n\n" + "\n".join(line.strip() for line in shown)
                          + "\n\nApply this change? The old list is kept beside the models; "
                          "models trained on it will no longer match.", parent=self)
        box.setDetailedText("\n".join(lines))
        apply = box.addButton("Apply", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(apply)
        box.exec()
        return box.clickedButton() is apply

    def _class_made(self, change, root, future) -> None:
        self._class_busy(False)
        self._class_change = None
        if future.exception() is not None:
            self.statusBar().clearMessage()
            QMessageBox.critical(self, "Classes not changed", str(future.exception()))
            self.proposals.set_project(self.session.project, read_only=bool(self.read_only))
            return
        if self.open_folder(str(root)):  # palette, list and Models panel follow the new list
            self.statusBar().showMessage(f"Classes changed ({change.summary}); the old list is kept in models/"
                                         "codes-*.txt; models trained on it no longer match", 10000)

    # ---- at open: codes.txt reordered or renamed by hand -----------------------------------------------
    def offer_codes_back(self, exc) -> str:
        """The open refused codes.txt because it was edited by hand: offer to put the remembered list back
        (the edited file is kept as codes.txt.edited-TIME); what to tell once it is back (open again), or
        "" (nothing done)."""
        if not isinstance(exc, CodesError) or exc.path is None or exc.path.name != "codes.txt":
            return ""
        root = Path(exc.path).parent
        edit = wait_result(self._open_pool.submit(class_change.hand_edited, root))
        if edit is None or not self.ask_codes_back(root, str(exc)):
            return ""
        from model.project.class_journal import restore_codes

        future = self._open_pool.submit(restore_codes, root)  # under the dataset's lock: off the GUI thread
        wait_future(future)
        if future.exception() is not None:
            QMessageBox.critical(self, "codes.txt not put back", str(future.exception()))
            return ""
        return (f"codes.txt is back as the masks know it; your edited file is kept beside it. To make the change "
                f"on purpose: Edit ▸ Change classes… ({edit[1]})")

    def ask_codes_back(self, root, text: str) -> bool:
        """True when the person wants the remembered list back (tests replace this)."""
        box = QMessageBox(QMessageBox.Warning, "codes.txt was edited by hand",
                          f"{text}\n\nPut the remembered list back and open the dataset? Your edited file is kept "
                          "as codes.txt.edited-TIME; Edit ▸ Change classes… then makes the change on purpose.",
                          parent=self)
        back = box.addButton("Put the list back and open", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(back)
        box.exec()
        return box.clickedButton() is back


def wait_result(future):
    """The Future's result once done (the window keeps painting meanwhile); None when it failed."""
    wait_future(future)
    return None if future.exception() is not None else future.result()

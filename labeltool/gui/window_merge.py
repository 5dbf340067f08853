"""Image ▸ Resolve merge conflict… in the main window (a mixin): enabled while the open image has a conflict
left by `labeltool merge` (model.project.merge_apply). The conflicts are read on a worker thread (when a
folder opens and every few seconds), the masks too; the choice is written on the writer thread, in order
with the saves; then the image is shown again from its file.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction

from labeltool.gui.futures import wait_future
from model.project.merge_apply import (
    combined_status,
    conflict_masks,
    conflict_names,
    resolve,
    resolve_combined,
)

REFRESH_MS = 5000


class MergeConflicts:
    """MainWindow's merge-conflict action (see the module docstring)."""

    def install_merge_action(self) -> None:
        self._merge_conflicts: set[str] = set()
        self._merge_root = None
        self._merge_refresh = None
        action = QAction("Resolve merge conflict…", self)
        action.setToolTip("Both masks of this image from `labeltool merge`: take mine, theirs, or theirs per class")
        action.triggered.connect(lambda *_: self.resolve_merge_conflict())
        action.setEnabled(False)
        self.actions_by_name["resolve_conflict"] = action
        for menu_action in self.menuBar().actions():
            if menu_action.menu() is not None and menu_action.text().replace("&", "") == "Image":
                menu_action.menu().addSeparator()
                menu_action.menu().addAction(action)
        self.futures.done.connect(self._merge_future_done)
        self._merge_timer = QTimer(self, interval=REFRESH_MS)
        self._merge_timer.timeout.connect(self._refresh_conflicts)
        self._merge_timer.start()

    def _update_merge_action(self) -> None:
        """Called with the window's other actions: enabled while the open image has a conflict."""
        action = getattr(self, "actions_by_name", {}).get("resolve_conflict")
        if action is None:
            return
        project = self.session.project if self.session is not None else None
        if project is not None and project.root != self._merge_root:
            self._merge_root, self._merge_conflicts = project.root, set()
            self._refresh_conflicts()
        action.setEnabled(project is not None and not self.read_only and not self._opening
                          and self.shown in self._merge_conflicts)

    def _refresh_conflicts(self) -> None:
        if self.session is None or self._closed or (self._merge_refresh is not None
                                                     and not self._merge_refresh.done()):
            return
        project = self.session.project
        self._merge_refresh = self.loader.submit(conflict_names, project.state_dir)
        self.futures.watch(self._merge_refresh, ("merge_conflicts", project))

    def _merge_future_done(self, tag, future) -> None:
        if self._closed or not isinstance(tag, tuple) or not tag or future.cancelled():
            return
        if tag[0] == "merge_conflicts":
            if self.session is not None and tag[1] is self.session.project and future.exception() is None:
                self._merge_conflicts = future.result()
                self._update_merge_action()
        elif tag[0] == "merge_resolved":
            self._merge_resolved(tag[1], future)

    def resolve_merge_conflict(self) -> None:
        """Show both masks of the open image and write the person's choice."""
        if self.session is None or self.shown is None or self.read_only:
            return
        if self.editor.is_dirty() or self.stroke_in_progress():
            self.statusBar().showMessage("Save your edits first (Ctrl+S): the conflict is resolved from the files",
                                         6000)
            return
        project, name = self.session.project, self.shown
        masks = self.loader.submit(conflict_masks, project, name)
        bundle = self.loader.get(name)
        wait_future(masks)
        wait_future(bundle)
        if masks.exception() is not None or bundle.exception() is not None:
            self.statusBar().showMessage(f"Cannot resolve: {masks.exception() or bundle.exception()}", 8000)
            return
        ours, theirs, entry = masks.result()
        choice, mask = self.ask_merge_choice(name, bundle.result().image, ours, theirs, entry)
        if choice is None:
            return
        if choice == "combined":
            status = combined_status(entry["ours"]["status"], entry["theirs"]["status"])
            future = self.writer.call(resolve_combined, project, name, mask, status)
        else:
            future = self.writer.call(resolve, project, name, choice)
        self.loader.invalidate(name)
        self.futures.watch(future, ("merge_resolved", name))

    def ask_merge_choice(self, name, image, ours, theirs, entry):
        """("ours"|"theirs"|"combined"|None, the combined mask): the dialog (tests replace this)."""
        from labeltool.gui.merge_dialog import MergeConflictDialog

        project = self.session.project
        dialog = MergeConflictDialog(name, image, ours, theirs, project.codes, project.palette, entry, self)
        dialog.exec()
        return dialog.choice, dialog.result_mask

    def _merge_resolved(self, name: str, future) -> None:
        if self.session is None:
            return
        if future.exception() is not None:
            self.statusBar().showMessage(f"Conflict not resolved: {future.exception()}", 10000)
            return
        self._merge_conflicts.discard(name)
        self.statusBar().showMessage(f"{name}: conflict resolved ({future.result()}); the other mask is in "
                                     ".labeltool/removed/", 6000)
        self.poll()  # the list learns the new status
        if name == self.shown:
            self._want = name
            self.futures.watch(self.loader.get(name), ("proposal", name))  # shown again from its file
        self._update_enabled()

"""The main window's saving: snapshots of the mask on screen saved on the writer thread, Accept, the hold
on the image with unsaved edits, and the questions when a save failed. The bookkeeping (which save is the
latest, which failed, settle before closing) is labeltool.workspace.saves, without Qt; ``Saving`` is a part
of MainWindow (a mixin): it uses the window's session, editor, writer, loader and status bar.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from labeltool.gui.futures import wait_future
from labeltool.workspace.session import ACCEPT_STATUS, accept_action, accept_refusal
from labeltool.workspace.writer import Snapshot


def _copy(array):
    return None if array is None else array.copy()


class Saving:
    """MainWindow's saves (see the module docstring)."""

    def stroke_in_progress(self) -> bool:
        canvas = self.editor.canvas
        layer = self.editor.layer
        return (getattr(canvas, "_stroke_last", None) is not None or getattr(canvas, "_line_anchor", None) is not None
                or bool(canvas.polygon_points) or (layer is not None and layer.history.in_transaction))

    def _snapshot_shown(self, force: bool = False):
        """Save the image on screen from a copy of its mask, on the writer thread; the Future or None."""
        if self.shown is None or self.session is None or not self.editor.is_dirty():
            return None
        layer = self.editor.layer
        same = None if force else self.saves.same_save(self.shown, layer, layer.history.state_id)
        if same is not None:
            return same  # these very pixels are being (or have just been) saved
        snap = Snapshot(self.shown, layer.mask.copy(), self._shown_fp, layer.history.state_id, layer, force=force,
                        unpainted=_copy(layer.unpainted))
        return self._submit(snap)

    def _snapshot_checked(self) -> Snapshot:
        """The pixels on screen as the image's corrected mask (Accept, Mark corrected): whatever the file
        holds by now (a person's mask saved meanwhile elsewhere is not replaced without asking)."""
        layer = self.editor.layer
        return Snapshot(self.shown, layer.mask.copy(), self._shown_fp, layer.history.state_id, layer,
                        status=ACCEPT_STATUS)

    def _submit(self, snap: Snapshot):
        future = self.writer.save(snap)
        self.saves.submitted(snap, future)
        if snap.target is None:
            self.loader.invalidate(snap.name)
        self.futures.watch(future, ("save", snap))
        return future

    def _autosave(self) -> None:
        if self.stroke_in_progress():
            self.autosave.start()  # never save half a stroke; try again when idle
            return
        self._snapshot_shown()

    def _save_done(self, snap: Snapshot, future) -> None:
        outcome = self.saves.outcome(snap, future)
        self.banner.show_text(self.saves.banner())
        if outcome != "saved":
            return
        result = future.result()
        if snap.layer is not None and snap.layer is self.editor.layer:
            self.editor.mark_saved(snap.state_id)
        self._took(snap.name, result)
        self.statusBar().showMessage(f"Saved {result.path.name} ({result.status})", 3000)

    def _wait_for_writes(self) -> None:
        """Let every queued save finish (the window keeps answering) and take in its outcome now."""
        barrier = self.writer.call(lambda: None)
        wait_future(barrier)
        for snap, future in self.saves.finished():
            self._save_done(snap, future)

    def save(self) -> bool:
        """Save the mask on screen if it changed; True when nothing is left unsaved."""
        self.autosave.stop()
        if self.session is None or self._closed:
            return True
        self._snapshot_shown()
        self._wait_for_writes()
        return not self.editor.is_dirty() and not self.saves.failed

    def save_now(self) -> None:
        """Ctrl+S: save and say so, or say why not."""
        failed = None if self.save() else self.saves.first_failed()
        if failed is not None:
            name, _snap, exc = failed
            QMessageBox.critical(self, "Could not save", f"{exc}\n\nThe edits of {name} are kept: they are "
                                 "still yours to save (try again, or Save as… when closing) or discard.")

    def settle(self, doing: str = "close") -> bool:
        """Before closing or opening another folder: True once nothing is unsaved (saved, or discarded on
        purpose); False when the user cancels."""
        return self.saves.settle(doing, save=self.save, ask=self.ask_failed_save, resolved=self._resolved,
                                 retry=self._retry, save_as=self._save_as_path)

    def _resolved(self, name: str) -> None:
        if name == self.shown:
            self.editor.mark_saved()  # discarded (or saved elsewhere) on purpose
        self.banner.show_text(self.saves.banner())

    def retry_failed(self) -> None:
        """The banner's Try again: every failed save is saved again (the image on screen from its pixels)."""
        for name, (snap, _exc) in list(self.saves.failed.items()):
            del self.saves.failed[name]
            self._retry(snap, force=False)
        self._snapshot_shown()

    def _retry(self, snap: Snapshot, force: bool) -> None:
        keep = snap.name == self.shown and snap.layer is self.editor.layer
        if not (keep and self._snapshot_shown(force=force)):
            self._submit(snap.again(force, keep_layer=keep))

    def _save_as_path(self, name: str, snap: Snapshot) -> bool:
        path = self.ask_save_as_path(name)
        return bool(path) and self._save_as(snap, path)

    def _save_as(self, snap: Snapshot, path: str) -> bool:
        mask = self.editor.layer.mask.copy() if snap.name == self.shown and self.editor.layer is not None \
            else snap.mask
        future = self._submit(Snapshot(snap.name, mask, target=Path(path)))
        wait_future(future)
        if future.exception() is not None:
            QMessageBox.critical(self, "Could not save", str(future.exception()))
            return False
        self.statusBar().showMessage(f"Saved a copy of {snap.name} as {path}", 8000)
        return True

    def ask_failed_save(self, name: str, reason: str, doing: str) -> str:
        """"retry", "save_as", "discard" or "cancel" (tests replace this)."""
        box = QMessageBox(QMessageBox.Critical, "Edits not saved",
                          f"The mask of {name} could not be saved:\n{reason}\n\nIts edits are kept until you "
                          f"choose. Retry, save the mask somewhere else, or discard the edits to {doing}.",
                          parent=self)
        retry = box.addButton(QMessageBox.Retry)
        save_as = box.addButton("Save as…", QMessageBox.ActionRole)
        discard = box.addButton(QMessageBox.Discard)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(retry)
        box.exec()
        clicked = box.clickedButton()
        return {id(retry): "retry", id(save_as): "save_as", id(discard): "discard"}.get(id(clicked), "cancel")

    def ask_save_as_path(self, name: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, f"Save the mask of {name} as", f"{name}_P.png", "PNG (*.png)")
        return path or None

    def accept_and_next(self) -> None:
        """Enter: the pixels on screen become the image's corrected mask; go to the next one to correct."""
        if self.session is None or self.shown is None or self.session.current != self.shown:
            return
        if self.stroke_in_progress():
            self.statusBar().showMessage("Finish the stroke or polygon first", 3000)
            return
        self.autosave.stop()
        name = self.shown
        action = accept_action(self.session.status(name), self.editor.is_dirty())
        if action == "nothing":
            self.statusBar().showMessage("Nothing to accept: this image has no mask yet (paint one or Propose)", 5000)
            return
        if action == "save":
            refusal = accept_refusal(self.editor.layer, self.session.project.codes)
            if refusal:
                self.statusBar().showMessage(f"Not accepted: {refusal}", 10000)
                return
            self._submit(self._snapshot_checked())
        self.next_to_correct()

    # ---- the hold on the image with unsaved edits ---------------------------------------------------
    def _hold_open_image(self, *_args) -> None:
        """The open image has edits (from the first dab of a stroke): proposals leave it alone until saved."""
        if self.session is not None and self.shown is not None:
            self.hold.hold(self.session.project, self.shown)

    def _edits_saved_or_not(self, dirty: bool) -> None:
        if dirty:
            self._hold_open_image()
        elif self.hold.name is not None and self.hold.name == self.shown and not self.stroke_in_progress():
            self._release_hold()

    def _release_hold(self) -> None:
        """The held image (if any) is released in the record, after the saves queued before it."""
        self.hold.release(self.session.project if self.session is not None else None)

    def _record_call(self, fn, *args) -> None:
        """A small write to the project's record (hold, release, settings), on the writer thread, in order
        with the saves; none from a read-only window."""
        if not self.read_only:
            self.writer.call(fn, *args)

"""The main window's answer to masks changing on disk: its record poll, the "newer mask" banner, and
the proposals the proposal child (labeltool/gui/proposal_server.py) writes ahead of the annotator.

A mask written by another process is decoded again in the background; for the image on screen it is
offered (the banner), never loaded under the user's edits; an untouched image on screen simply shows
its new proposal. ``DiskChanges`` is a part of MainWindow (a mixin): it uses the window's session,
loader, writer, editor and status bar.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from labeltool.gui.futures import wait_future
from labeltool.workspace.changes import poll_changes


class DiskChanges:
    """MainWindow's record poll, newer-mask banner and proposal arrivals (see the module docstring)."""

    def poll(self, rescan: bool = False) -> None:
        """Ask (on a worker thread) which records changed, here or in another process."""
        if self.session is None or self._closed or (self._poll_future is not None and not self._poll_future.done()):
            return
        project = self.session.project
        self._poll_future = self.loader.submit(poll_changes, project, self._serial, self.shown, rescan)
        self.futures.watch(self._poll_future, ("poll", project))

    def _poll_done(self, project, future) -> None:
        if self.session is None or project is not self.session.project or future.cancelled():
            return
        if future.exception() is not None:
            self.statusBar().showMessage(f"Could not read the record: {future.exception()}", 5000)
            return
        changes = future.result()
        self._serial = max(self._serial, changes.serial)
        session = self.session
        if changes.added:
            statuses = {n: changes.rows[n][0] for n in changes.added if n in changes.rows}
            added = self.files.add_names(changes.added, statuses)
            if added:
                self.statusBar().showMessage(f"{len(added)} new images in the folder", 5000)
        if changes.removed:
            self.statusBar().showMessage(f"{len(changes.removed)} images were removed from the folder; "
                                         "open it again to drop them from the list", 8000)
        for name, (status, record) in changes.rows.items():
            index = session.update(name, status, record)
            if index is not None:
                self.files.row_changed(index)
            if name != self.shown:
                self.loader.invalidate(name, record)  # a decode that read this change already is kept
        if changes.rows:
            self.files.summarise()
            self._update_title()
            self._prefetch()  # a decode of the next images that this dropped (one still being read) is asked again
        if changes.current is not None and changes.current == self.shown:
            self._check_shown_on_disk(changes.current_fingerprint)

    def _check_shown_on_disk(self, fp) -> None:
        """The open image's mask file changed and not by this window: offer it, never swap it in."""
        name = self.shown
        if fp == self._shown_fp or self.writer.pending(name) is not None or self.saves.saving(name):
            return
        if fp is not None and fp == self.writer.last_written(name):
            return
        status = self.session.status(name)
        text = ("A new proposal is available" if status == "proposed"
                else "This mask was changed on disk by another program" if fp is not None
                else "This mask was deleted on disk")
        self.newer_label.setText(text)
        self.newer_label.show()
        self.newer_button.show()

    def _hide_newer(self) -> None:
        self.newer_label.hide()
        self.newer_button.hide()

    def newer_mask_offered(self) -> bool:
        return not self.newer_button.isHidden()

    def load_newer_mask(self) -> None:
        """The banner's button: replace the mask on screen by the one on disk (asks when edits would go)."""
        if self.session is None or self.shown is None:
            return
        if self.stroke_in_progress():
            return
        if self.editor.is_dirty():
            answer = QMessageBox.question(self, "Replace your edits?",
                                          "Your unsaved edits of this image would be replaced by the mask on disk.",
                                          QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                return
        name = self.shown
        self.loader.invalidate(name)
        self._want = name
        future = self.loader.get(name)
        wait_future(future)
        self._show(name, future, replace=True)


    def proposal_written(self, name: str) -> None:
        """The proposal child wrote ``name``'s proposal: decode it again now (the image after Accept opens with
        it); the image on screen shows it when untouched, else it is offered."""
        if self.session is None or self._closed:
            return
        self.loader.invalidate(name)
        self.poll()  # the list's status and figures
        if name != self.shown:
            if name in self.proposals.plan():
                self.loader.prefetch([name])
            return
        if self._want is not None and self._want != name:
            return  # the user is moving to another image
        self._want = name
        self.futures.watch(self.loader.get(name), ("proposal", name))

    def _proposal_decoded(self, name: str, future) -> None:
        if name != self.shown or self._want != name:
            return
        if self.editor.is_dirty() or self.stroke_in_progress() or self.saves.saving(name):
            self._want = None
            self.poll()  # edits on screen: the banner offers the proposal
            return
        self._show(name, future, replace=True)

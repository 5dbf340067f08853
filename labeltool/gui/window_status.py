"""A person's status actions in the main window: Mark corrected, Mark not checked, Revert to proposal.

Each goes through the writer thread (``Project.set_status`` there, in order with the saves) and updates the
list when written. The rules (what makes "corrected", what pixels nobody painted stop) are
labeltool.workspace.session's; ``StatusActions`` is a part of MainWindow (a mixin).
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from labeltool.workspace.session import ACCEPT_STATUS, accept_refusal


class StatusActions:
    """MainWindow's status actions (see the module docstring)."""

    def _status_ready(self) -> bool:
        if self.session is None or self.shown is None or self.read_only:
            return False
        if self.stroke_in_progress():
            self.statusBar().showMessage("Finish the stroke or polygon first", 3000)
            return False
        self.autosave.stop()
        return True

    def mark_corrected(self) -> None:
        """The mask on screen is checked: corrected (trained on); the image stays on screen."""
        if not self._status_ready():
            return
        refusal = accept_refusal(self.editor.layer, self.session.project.codes)
        if refusal:
            self.statusBar().showMessage(f"Not marked corrected: {refusal}", 10000)
        elif self.editor.is_dirty():
            self._submit(self._snapshot_checked())
        else:
            self._set_status(self.shown, ACCEPT_STATUS)

    def mark_unchecked(self) -> None:
        """The mask stays but is no longer checked: edited (never trained on; N / Enter walk it)."""
        if self._status_ready():
            self._snapshot_shown()  # unsaved edits are saved as edited first, in the writer's order
            self._set_status(self.shown, "edited")

    def revert_to_proposal(self) -> None:
        """The proposal kept when a person first saved over it comes back; edits on screen go (asked first)."""
        if not self._status_ready():
            return
        name = self.shown
        if self.editor.is_dirty() and not self.ask_revert(name):
            return
        self.saves.resolve(name)
        self.editor.mark_saved()  # the edits are dropped on purpose
        self.banner.show_text(self.saves.banner())
        self._release_hold()
        self._set_status(name, "proposed")

    def ask_revert(self, name: str) -> bool:
        """True: drop the unsaved edits on screen for the proposal (tests replace this)."""
        answer = QMessageBox.question(self, "Revert to proposal",
                                      f"Your unsaved edits of {name} will be replaced by the model's proposal.",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def _set_status(self, name: str, status: str) -> None:
        future = self.writer.set_status(name, status)
        self.loader.invalidate(name)
        self.futures.watch(future, ("status", name))

    def _status_done(self, name: str, future) -> None:
        if future.cancelled() or self.session is None:
            return
        if future.exception() is not None:
            self.statusBar().showMessage(f"Status not changed: {future.exception()}", 10000)
            return
        result = future.result()
        self._took(name, result)
        self.statusBar().showMessage(f"{name}: {result.status}", 3000)
        if name == self.shown and result.status == "proposed":  # the proposal is back: show it
            self._want = name
            self.futures.watch(self.loader.get(name), ("proposal", name))

    def _took(self, name: str, result) -> None:
        """A save or status action of ``name`` was written: its row, the figures, the title and actions."""
        if name == self.shown:
            self._shown_fp = result.fingerprint
            self._kept_proposal = result.kept_proposal
        index = self.session.update(name, result.status, result.record) if self.session else None
        if index is not None:
            self.files.row_changed(index)
            self.files.summarise()
        self._update_title()
        self.proposals.took(name, result.status)  # a correction: the child warps its next frames

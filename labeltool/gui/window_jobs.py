"""The main window's model work: Propose, Retrain, and what their results change in the window (a new model
re-proposes, new confidences re-order the list). The jobs themselves run in child processes
(labeltool/gui/model_jobs.py). ``ModelWork`` is a part of MainWindow (a mixin).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from labeltool.workspace.plan import has_model, order_after_proposals


class ModelWork:
    """MainWindow's Propose and Retrain (see the module docstring)."""

    def _order_changed(self, mode: str) -> None:
        self._user_order = True
        if self.session is not None:
            self._record_call(self.session.project.set_setting, "order", mode)
        self._prefetch()

    def propose(self, names: list[str] | None = None) -> None:
        if self.session is None or self.jobs.busy() or self.read_only:
            return
        self.save()
        if not has_model(self.session.project):
            QMessageBox.information(self, "Propose", "There is no model yet. Label a few images (paint, then "
                                    "Enter to accept), then click \"Retrain on my corrections\": the new model "
                                    "proposes the rest.")
            return
        self._job_root = self.session.project.root
        self.jobs.propose(self.session.project, names)
        self._update_enabled()

    def retrain(self) -> None:
        if self.session is None or self.jobs.busy() or self.read_only:
            return
        self.save()
        corrected = self.session.counts["corrected"] + self.session.counts["reviewed"]
        if not corrected:
            QMessageBox.information(self, "Retrain", "No corrected masks yet: correct and accept a few images first.")
            return
        self._job_root = self.session.project.root
        self.jobs.retrain(self.session.project, corrected)
        self._update_enabled()

    def _job_is_ours(self) -> bool:
        return self.session is not None and self._job_root == self.session.project.root

    def _proposed(self, written: list) -> None:
        if not self._job_is_ours():
            return  # proposals of a folder that is no longer open
        self.poll()

    def _trained(self, model_path: str) -> None:
        if not self._job_is_ours():
            self.statusBar().showMessage(f"The retrain of {self._job_root} finished ({Path(model_path).name}); "
                                         "its model stays in that folder and proposes nothing here", 10000)
            return
        if (self.jobs.last_result or {}).get("promoted") is False:
            return  # the active model did not change: its proposals stand
        self.statusBar().showMessage(f"New model {Path(model_path).name}; re-proposing the other images…", 8000)
        self.propose()

    def _job_progress(self, value: int, maximum: int) -> None:
        self.progress.setMaximum(maximum)
        self.progress.setValue(value)
        self.progress.show()

    def _job_finished(self) -> None:
        self.progress.hide()
        self._update_enabled()
        if self._job_is_ours():
            self.poll()
            QTimer.singleShot(self.poll_timer.interval() // 2, self._reorder_after_proposals)

    def _reorder_after_proposals(self) -> None:
        """New confidences: least certain first becomes the order (unless the user chose one), re-sorted."""
        s = self.session
        if s is None or self._closed or self.jobs.busy():
            return
        change = order_after_proposals(s, self._user_order)
        if change == "uncertain":
            self.files.set_order("uncertain")  # sorts and re-lays the list
            self._user_order = False
        elif change == "resort":
            s.sort()
            self.files.resorted()
        self._prefetch()

    def ask_quit_while_busy(self) -> bool:
        """True: close anyway, cancelling the retrain or proposal run (tests replace this)."""
        answer = QMessageBox.question(self, "A model job is running",
                                      "A retrain or proposal run is in progress. Closing cancels it: a retrain "
                                      "publishes no model. Close anyway?",
                                      QMessageBox.Close | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Close

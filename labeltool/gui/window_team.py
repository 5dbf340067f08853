"""A team's tools in the main window (a mixin of MainWindow), issue 19:

- Image → Audit corrected masks: `labeltool audit DATASET --json` in a child process (ModelJobs); when it is
  done the list learns the disputed pixels and can sort "Most disputed first (audit)".
- Image → Show disputed pixels (checkable): over the image, the pixels the held-out model disputes while the
  mask is the one audited, else the pixels the image's annotators labelled differently.
- Image → Agreement between annotators…: the per-class table (labeltool/gui/agreement_dialog.py).
- Image → Start from consensus: the annotators' consensus (majority vote) into the editor as one undo step;
  the undecided pixels keep what was on screen and are shown, for the reviewer to decide, then approve (Y).
The rules are labeltool.workspace.team's; every read runs on the writer thread.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from labeltool.editing.scribble import apply_mask
from labeltool.gui.futures import future_signals
from labeltool.gui.object_overlay import ObjectHighlight
from labeltool.gui.window_actions import add_menu_section, window_action
from labeltool.workspace.team import agreement_report, consensus_start, overlay_facts
from model.project.audit_record import read_audit


class Teamwork:
    """MainWindow's audit, agreement and consensus (see the module docstring)."""

    team_facts = None  # the OverlayFacts on screen (tests read them)

    def install_team(self) -> None:
        self.team_overlay = ObjectHighlight(self.editor.canvas)
        self._team_futures = future_signals(self)
        self._team_futures.done.connect(self._team_done)
        made = {
            "audit": window_action(self, "audit", "Audit corrected masks", self.run_audit,
                                       "A model that never saw each image checks its corrected mask; the list can "
                                       "then sort the most disputed first"),
            "show_disputed": window_action(self, "show_disputed", "Show disputed pixels", self._refresh_team,
                                               "Show the pixels the audit disputes, or the annotators disagree on"),
            "agreement": window_action(self, "agreement", "Agreement between annotators…", self.show_agreement,
                                           "Per-class IoU between annotators beside the model's"),
            "consensus": window_action(self, "consensus", "Start from consensus", self.start_from_consensus,
                                           "The annotators' majority into the editor (one undo step); undecided "
                                           "pixels are shown for you to decide"),
        }
        made["show_disputed"].setCheckable(True)
        self.actions_by_name.update(made)
        add_menu_section(self, "image", made.values())
        self.jobs.audited.connect(self._audited)
        self.imageShown.connect(lambda _name, _has_mask: self._refresh_team())

    # ---- audit ---------------------------------------------------------------------------------
    def run_audit(self) -> None:
        if self.session is None or self.jobs.busy() or self.read_only:
            return
        self.save()
        self._job_root = self.session.project.root
        self.jobs.audit(self.session.project)
        self._update_enabled()

    def _audited(self, result: dict) -> None:
        if not self._job_is_ours():
            return
        count, orphans = int(result.get("audited") or 0), len(result.get("no_model") or [])
        extra = f"; {orphans} not audited (every model learned from them)" if orphans else ""
        self.statusBar().showMessage(f"Audited {count} masks{extra}; the list sorts the most disputed first", 15000)
        self._team_futures.watch(self.writer.call(read_audit, self.session.project.state_dir), ("audit", None))

    # ---- overlay -------------------------------------------------------------------------------
    def _refresh_team(self) -> None:
        self.team_overlay.show_region(None, None)
        self.team_facts = None
        if self.session is None or self.shown is None or not self.actions_by_name["show_disputed"].isChecked():
            return
        name = self.shown
        future = self.writer.call(overlay_facts, self.session.project, name, self.session.disputes(name))
        self._team_futures.watch(future, ("overlay", name))

    # ---- agreement and consensus ---------------------------------------------------------------
    def show_agreement(self) -> None:
        if self.session is not None:
            self._team_futures.watch(self.writer.call(agreement_report, self.session.project), ("agreement", None))

    def start_from_consensus(self) -> None:
        if self.session is None or self.shown is None or self.editor.layer is None or self.read_only:
            return
        future = self.writer.call(consensus_start, self.session.project, self.shown, self.editor.layer.mask.copy())
        self._team_futures.watch(future, ("consensus", self.shown))

    def _team_done(self, tag, future) -> None:
        kind, name = tag
        if self._closed or self.session is None or future.cancelled():
            return
        if future.exception() is not None:
            QMessageBox.warning(self, "Team", str(future.exception()))
            return
        result = future.result()
        if kind == "audit":
            self.session.set_audit(result)
            self.files.set_order("disputed")
            self._refresh_team()
        elif kind == "overlay" and name == self.shown:
            self.team_facts = result
            if result.plane is not None:
                self.team_overlay.show_region((0, 0), result.plane)
            self.statusBar().showMessage(result.text, 8000)
        elif kind == "agreement":
            from labeltool.gui.agreement_dialog import AgreementDialog

            self.agreement_dialog = AgreementDialog(result, self)
            self.agreement_dialog.imageChosen.connect(self.go_to)
            self.agreement_dialog.show()
        elif kind == "consensus" and name == self.shown and self.editor.layer is not None:
            if result is None:
                self.statusBar().showMessage(f"{name} was labelled by one person: no consensus to start from", 6000)
                return
            mask, undecided, people = result
            self.editor.canvas._finish(apply_mask(self.editor.layer, mask, "consensus"))  # noqa: SLF001 - one undo step
            self.team_overlay.show_region((0, 0), undecided)
            self.statusBar().showMessage(f"Consensus of {', '.join(people)}: {int(undecided.sum())} undecided pixels "
                                         "shown; decide them, then Accept or approve (Y)", 15000)

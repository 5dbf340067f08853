"""Review mode and the reviewer's verdicts in the main window (a mixin of MainWindow).

- Review mode (Image → Review corrected images, Ctrl+R) walks the corrected images in the list's order;
  on each it highlights the pixels the annotator changed from the model's proposal (the kept proposal:
  labeltool.workspace.review.review_diff) or says there is no proposal to compare with (the whole mask).
- Approve (Y, or Enter on an untouched mask in review mode) makes the mask *reviewed*; Reject (X) asks
  for a note and makes it *rejected*: the annotator sees the note in the banner above the image, and N
  walks rejected images as work to do. Both go through the writer thread (``Project.review``), then the
  next corrected image opens.
- Any image shown that was reviewed or rejected shows the verdict (who, when, the note) in the banner.
The rules (what may be reviewed, what comes next) are labeltool.workspace.review's and .plan's.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLabel

from labeltool.gui.futures import future_signals
from labeltool.gui.object_overlay import ObjectHighlight
from labeltool.gui.window_actions import add_menu_section, window_action
from labeltool.workspace.review import next_to_review, review_facts, verdict_text
from model.project.status import REVIEWABLE

BANNER_STYLE = {"rejected": "background:#f6d5d5; color:#6d1010; padding:4px;",
                "review": "background:#dde8f7; color:#102a55; padding:4px;"}


class Reviewing:
    """MainWindow's review mode (see the module docstring)."""

    review_mode = False

    def install_review(self) -> None:
        """The banner, the diff overlay and the three actions (called once, right after build_actions)."""
        self.review_banner = QLabel()
        self.review_banner.setWordWrap(True)
        self.review_banner.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.review_banner.hide()
        self.centralWidget().layout().insertWidget(1, self.review_banner)  # under the save banner, over the image
        self.review_overlay = ObjectHighlight(self.editor.canvas)
        self.review_diff = None  # the ReviewDiff on screen (tests read it)
        self._review_futures = future_signals(self)
        self._review_futures.done.connect(self._review_facts_done)
        made = {
            "review_mode": window_action(self, "review_mode", "Review corrected images", self.toggle_review_mode,
                                               "Walk the corrected images; the pixels changed from the proposal "
                                               "are highlighted"),
            "approve": window_action(self, "approve", "Approve", self.approve_review,
                                           "The mask on screen is right: reviewed (trained on)"),
            "reject": window_action(self, "reject", "Reject…", self.reject_review,
                                          "Send the mask back to the annotator with a note (not trained on)"),
        }
        made["review_mode"].setCheckable(True)
        self.actions_by_name.update(made)
        add_menu_section(self, "image", made.values())
        self.imageShown.connect(lambda name, _has_mask: self._refresh_review(name))

    # ---- the mode ------------------------------------------------------------------------------
    def toggle_review_mode(self) -> None:
        self.review_mode = not self.review_mode
        self.actions_by_name["review_mode"].setChecked(self.review_mode)
        if self.review_mode and self.session is not None:
            shown = self.session.status(self.shown) if self.shown is not None else None
            if shown != "corrected":
                self._review_next()
            self.editor.mask_check.setChecked(True)
        if self.shown is not None:
            self._refresh_review(self.shown)
        self.statusBar().showMessage("Review mode: Y approves, X rejects with a note, N skips" if self.review_mode
                                     else "Review mode off", 4000)
        self._update_enabled()

    def _review_next(self) -> None:
        target = next_to_review(self.session) if self.session is not None else None
        if target is None:
            self.statusBar().showMessage("No corrected image left to review in the list", 5000)
        else:
            self.go_to(target)

    def next_to_correct(self) -> None:
        """N: in review mode the next corrected image; else the next image to correct (rejected ones included)."""
        if self.review_mode:
            self._review_next()
        else:
            super().next_to_correct()

    def accept_and_next(self) -> None:
        """Enter: in review mode, on an untouched mask to review, approves it; else Accept."""
        if (self.review_mode and self.session is not None and self.shown is not None
                and not self.editor.is_dirty() and self.session.status(self.shown) in REVIEWABLE):
            self.approve_review()
        else:
            if (self.session is not None and self.shown is not None and not self.editor.is_dirty()
                    and self.session.status(self.shown) == "rejected"):
                self.statusBar().showMessage(f"{self.shown} stays rejected: fix the mask, then Enter (or Mark "
                                             "corrected, Ctrl+Return, to overrule the reviewer)", 8000)
            super().accept_and_next()

    # ---- verdicts ------------------------------------------------------------------------------
    def _review_target(self) -> str | None:
        if self.session is None or self.shown is None or self.read_only:
            return None
        if self.stroke_in_progress():
            self.statusBar().showMessage("Finish the stroke or polygon first", 3000)
            return None
        if self.editor.is_dirty():
            self.statusBar().showMessage("The mask has unsaved edits: Accept them (Enter) or undo them before "
                                         "reviewing; a verdict is on the pixels saved", 8000)
            return None
        status = self.session.status(self.shown)
        if status not in REVIEWABLE:
            self.statusBar().showMessage(f"{self.shown} is {status}: only a corrected mask can be reviewed", 6000)
            return None
        return self.shown

    def approve_review(self) -> None:
        name = self._review_target()
        if name is not None:
            self._send_verdict(name, "approved", "")

    def reject_review(self) -> None:
        name = self._review_target()
        if name is None:
            return
        note = (self.ask_reject_note(name) or "").strip()
        if not note:
            self.statusBar().showMessage("Not rejected: a rejection needs a note saying what to fix", 5000)
            return
        self._send_verdict(name, "rejected", note)

    def ask_reject_note(self, name: str) -> str | None:
        """The note sent back with a rejection, or None (cancelled). Tests replace this."""
        text, ok = QInputDialog.getText(self, "Reject", f"What should the annotator fix in {name}?")
        return text if ok else None

    def _send_verdict(self, name: str, verdict: str, note: str) -> None:
        self.autosave.stop()
        future = self.writer.review(name, verdict, note)
        self.loader.invalidate(name)
        self.futures.watch(future, ("status", name))  # StatusActions._status_done: the row, the figures
        if self.review_mode:
            self._review_next()

    def _took(self, name: str, result) -> None:
        super()._took(name, result)
        if name == self.shown:
            self._refresh_review(name)

    # ---- what the banner and the overlay show ----------------------------------------------------
    def _refresh_review(self, name: str) -> None:
        self.review_overlay.show_region(None, None)
        self.review_diff = None
        if self.session is None:
            return
        future = self.writer.call(review_facts, self.session.project, name, self.review_mode)
        self._review_futures.watch(future, name)

    def _review_facts_done(self, name: str, future) -> None:
        if name != self.shown or future.cancelled() or self.session is None:
            return
        if future.exception() is not None:
            self._set_review_banner(f"{name}: the review cannot be read ({future.exception()})", "rejected")
            return
        status, review, diff = future.result()
        lines = [verdict_text(status, review)]
        if self.review_mode and diff is not None:
            self.review_diff = diff
            lines.append(f"Review: {diff.text}. Y approves, X rejects with a note, N skips.")
            box = diff.bbox()
            if box is not None:
                y0, x0, y1, x1 = box
                self.review_overlay.show_region((y0, x0), diff.changed[y0:y1, x0:x1])
        elif self.review_mode:
            lines.append(f"Review: {name} is {status}, not a corrected mask to review; N goes to the next one.")
        self._set_review_banner("\n".join(line for line in lines if line), status)

    def _set_review_banner(self, text: str, status: str) -> None:
        self.review_banner.setText(text)
        self.review_banner.setStyleSheet(BANNER_STYLE["rejected" if status == "rejected" else "review"])
        self.review_banner.setVisible(bool(text))

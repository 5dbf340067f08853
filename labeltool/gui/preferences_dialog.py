"""File → Preferences…: the annotator's name (model.project.identity), written in every mask a person saves.

The dialog opens window-modal without blocking (``open``), so tests and the event loop keep running; OK writes
the preference file through :func:`model.project.identity.set_annotator` and refuses a name it would refuse,
saying why, with the dialog still open.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from model.project import identity

NAME_LABEL = "Your name (written in every mask you save)"


class PreferencesDialog(QDialog):
    nameChanged = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.name_edit = QLineEdit(identity.preferred_name() or identity.annotator())
        self.name_edit.setMaxLength(identity.MAX_LENGTH)
        self.name_edit.setPlaceholderText(identity.login_name())
        self.note = QLabel(f"Kept in {identity.preference_path()} (also: labeltool whoami --set NAME); "
                           f"without it, your login name ({identity.login_name()}) is written.")
        self.note.setWordWrap(True)
        env = os.environ.get(identity.ENV, "").strip()
        self.env_note = QLabel(f"${identity.ENV} is set to {env!r} and is written instead while it is set.")
        self.env_note.setWordWrap(True)
        self.env_note.setVisible(identity.source() == "environment")
        self.error = QLabel()
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)
        self.error.hide()
        form = QFormLayout()
        form.addRow(NAME_LABEL, self.name_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, parent=self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        for widget in (self.note, self.env_note, self.error):
            lay.addWidget(widget)
        lay.addWidget(buttons)

    def accept(self) -> None:
        text = self.name_edit.text()
        try:
            written = identity.set_annotator(text)
        except (identity.AnnotatorNameError, OSError) as exc:
            self.error.setText(f"Not saved: {exc}")
            self.error.show()
            return
        self.nameChanged.emit(written)
        super().accept()

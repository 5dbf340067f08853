"""Asked when a folder has no codes.txt: which classes to label (a CamVid-11 preset is offered)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from model.errors import CodesError
from model.project.codes import CAMVID11_CODES, parse_codes


class ClassesDialog(QDialog):
    def __init__(self, folder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Classes to label")
        self.names: list[str] = []
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("One class name per line; the line number is the class index.\n"
                                       "Put Void (not scored, painted by the eraser) last.")
        self.preset_button = preset = QPushButton("Use the CamVid 11-class preset")
        preset.clicked.connect(lambda: self.editor.setPlainText("\n".join(CAMVID11_CODES)))
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{folder} has no codes.txt. Which classes do you want to label?"))
        layout.addWidget(self.editor)
        layout.addWidget(preset)
        layout.addWidget(buttons)

    def _accept(self) -> None:
        try:
            self.names = parse_codes(self.editor.toPlainText(), "the class list")
        except CodesError as exc:
            QMessageBox.warning(self, "Classes", str(exc))
            return
        self.accept()

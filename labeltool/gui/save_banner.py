"""The banner above the editor while a save failed: it stays until the save succeeds or the edits are
discarded (the text is labeltool.workspace.saves.SaveBook.banner: what failed and where the pixels went)."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


class SaveBanner(QFrame):
    def __init__(self, retry, parent=None):
        super().__init__(parent)
        self.setObjectName("saveBanner")
        self.setStyleSheet("#saveBanner { background: #b3261e; } #saveBanner QLabel { color: white; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.retry = QPushButton("Try again")
        self.retry.setToolTip("Save the images whose save failed again")
        self.retry.clicked.connect(lambda *_: retry())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.retry)
        self.hide()

    def show_text(self, text: str | None) -> None:
        """Show ``text`` (None: hide the banner)."""
        if text:
            self.label.setText(text)
            self.show()
        else:
            self.hide()


class ListsBanner(QFrame):
    """Above the editor while valid.txt/test.txt has a problem (model.project.layout.split_list_problems):
    a retrain or evaluation would stop on it, so the annotator learns it when the folder opens."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("listsBanner")
        self.setStyleSheet("#listsBanner { background: #f9dc5c; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        QHBoxLayout(self).addWidget(self.label)
        self.hide()

    def show_problems(self, problems: list[str]) -> None:
        if problems:
            self.label.setText("Retrain and Evaluate will stop until the split lists are fixed:\n" + "\n".join(problems))
            self.show()
        else:
            self.hide()

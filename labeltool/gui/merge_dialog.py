"""Resolve merge conflict…: the two masks of a conflicted image side by side over the image, and the choice.

"Take mine" keeps ours, "Take theirs" takes theirs, "Take theirs for these classes" takes theirs wherever
the two masks disagree about a ticked class (model.project.merge_apply.combine; the third pane shows the
result as the ticks change). The dialog only shows and asks; the window writes (on its writer thread).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from model.project.merge_apply import combine

PANE_WIDTH = 420


def overlay(image: np.ndarray, mask: np.ndarray, palette: np.ndarray, alpha: float = 0.55) -> QPixmap:
    """The image with the mask's colours over it, as a pixmap at most PANE_WIDTH wide."""
    rgb = image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    rgb = rgb.astype(np.float32)
    colours = np.asarray(palette, dtype=np.float32)[np.clip(mask, 0, len(palette) - 1)]
    mixed = np.ascontiguousarray(((1 - alpha) * rgb + alpha * colours).clip(0, 255).astype(np.uint8))
    h, w = mixed.shape[:2]
    picture = QImage(mixed.data, w, h, mixed.strides[0], QImage.Format_RGB888).copy()
    pixmap = QPixmap.fromImage(picture)
    return pixmap.scaledToWidth(min(PANE_WIDTH, w), Qt.SmoothTransformation) if w > PANE_WIDTH else pixmap


class MergeConflictDialog(QDialog):
    """``choice`` after exec(): "ours", "theirs" or "combined" (``result_mask``), or None (cancelled)."""

    def __init__(self, name: str, image: np.ndarray, ours: np.ndarray, theirs: np.ndarray, codes: list[str],
                 palette: np.ndarray, entry: dict, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Resolve merge conflict — {name}")
        self.image, self.ours, self.theirs, self.palette = image, ours, theirs, palette
        self.choice: str | None = None
        self.result_mask: np.ndarray | None = None
        panes = QGridLayout()
        self.panes = {}
        for column, (key, title) in enumerate((("ours", "Mine"), ("theirs", "Theirs"), ("result", "Result"))):
            side = entry.get(key, {}) if key != "result" else {}
            text = (f"<b>{title}</b>: {side.get('status', '?')} by {side.get('by') or '?'} at {side.get('at') or '?'}"
                    if key != "result" else "<b>Result</b>: mine, theirs for the ticked classes")
            caption = QLabel(text)
            caption.setWordWrap(True)
            pane = QLabel()
            pane.setAlignment(Qt.AlignCenter)
            self.panes[key] = pane
            panes.addWidget(caption, 0, column)
            panes.addWidget(pane, 1, column)
        self.panes["ours"].setPixmap(overlay(image, ours, palette))
        self.panes["theirs"].setPixmap(overlay(image, theirs, palette))
        differ = ours != theirs
        self.boxes: dict[int, QCheckBox] = {}
        classes = QHBoxLayout()
        classes.addWidget(QLabel("Take theirs for:"))
        for index, code in enumerate(codes):
            count = int((differ & ((ours == index) | (theirs == index))).sum())
            if not count:
                continue
            box = QCheckBox(f"{code} ({count} px)")
            box.toggled.connect(self._update_result)
            self.boxes[index] = box
            classes.addWidget(box)
        classes.addStretch(1)
        summary = QLabel(f"{int(differ.sum())} of {differ.size} pixels differ. The mask you do not keep is moved "
                         "into .labeltool/removed/.")
        buttons = QHBoxLayout()
        self.mine_button = QPushButton("Take mine")
        self.theirs_button = QPushButton("Take theirs")
        self.combined_button = QPushButton("Take theirs for these classes")
        cancel = QPushButton("Cancel")
        self.mine_button.clicked.connect(lambda: self._choose("ours"))
        self.theirs_button.clicked.connect(lambda: self._choose("theirs"))
        self.combined_button.clicked.connect(lambda: self._choose("combined"))
        cancel.clicked.connect(self.reject)
        for button in (self.mine_button, self.theirs_button, self.combined_button):
            button.setAutoDefault(False)  # Enter never resolves by accident: Cancel is the default
        cancel.setDefault(True)
        for button in (self.mine_button, self.theirs_button, self.combined_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        column = QVBoxLayout(self)
        column.addLayout(panes)
        column.addWidget(summary)
        column.addLayout(classes)
        column.addLayout(buttons)
        self._update_result()

    def ticked(self) -> set[int]:
        return {index for index, box in self.boxes.items() if box.isChecked()}

    def _update_result(self, *_args) -> None:
        self.result_mask = combine(self.ours, self.theirs, self.ticked())
        self.panes["result"].setPixmap(overlay(self.image, self.result_mask, self.palette))
        self.combined_button.setEnabled(bool(self.ticked()))

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()

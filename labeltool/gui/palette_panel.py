"""Class palette panel (search, select, show/hide, edit colour) and the replace-class dialog."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)


def _swatch(rgb) -> QIcon:
    pm = QPixmap(16, 16)
    pm.fill(QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])))
    return QIcon(pm)


def class_key(index: int) -> str:
    """Digit shortcut of a class ('1'..'9', '0' for the tenth), or ''."""
    return str((index + 1) % 10) if index < 10 else ""


class PalettePanel(QWidget):
    classSelected = Signal(int)
    visibilityChanged = Signal(int, bool)
    colorChanged = Signal(int, object)   # index, (r, g, b)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search classes…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setToolTip("Click: select class · checkbox: show/hide · double-click: edit colour")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.search)
        lay.addWidget(self.list)
        self.search.textChanged.connect(self.apply_filter)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemChanged.connect(self._item_changed)
        self.list.itemDoubleClicked.connect(lambda item: self.edit_color(self.list.row(item)))
        self._palette = np.zeros((0, 3), np.uint8)
        self._filling = False

    def set_classes(self, names: list[str], palette: np.ndarray, visible: np.ndarray) -> None:
        self._filling = True
        self.list.clear()
        self._palette = np.array(palette, dtype=np.uint8, copy=True)
        for i, name in enumerate(names):
            key = class_key(i)
            item = QListWidgetItem(_swatch(palette[i]), f"{key:>1}  {name}" if key else f"    {name}")
            item.setData(Qt.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if visible[i] else Qt.Unchecked)
            self.list.addItem(item)
        self._filling = False
        self.apply_filter(self.search.text())

    def count(self) -> int:
        return self.list.count()

    def current(self) -> int:
        return self.list.currentRow()

    def set_current(self, index: int) -> None:
        if 0 <= index < self.list.count():
            self.list.setCurrentRow(index)

    def is_visible(self, index: int) -> bool:
        return self.list.item(index).checkState() == Qt.Checked

    def set_visible(self, index: int, visible: bool) -> None:
        self.list.item(index).setCheckState(Qt.Checked if visible else Qt.Unchecked)

    def visible_rows(self) -> list[int]:
        """Rows not hidden by the search filter."""
        return [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]

    def apply_filter(self, text: str) -> None:
        t = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(bool(t) and t not in item.data(Qt.UserRole).lower())
        rows = self.visible_rows()
        if t and rows and self.current() not in rows:
            self.set_current(rows[0])

    def set_color(self, index: int, rgb) -> None:
        """Change a class colour (emits colorChanged)."""
        rgb = tuple(int(v) for v in rgb)
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise ValueError(f"colour must be three values in 0..255, got {rgb!r}")
        self._palette[index] = rgb
        self.list.item(index).setIcon(_swatch(rgb))
        self.colorChanged.emit(index, rgb)

    def edit_color(self, index: int) -> None:
        if not 0 <= index < self.list.count():
            return
        r, g, b = (int(v) for v in self._palette[index])
        col = QColorDialog.getColor(QColor(r, g, b), self, f"Colour of {self.list.item(index).data(Qt.UserRole)}")
        if col.isValid():
            self.set_color(index, (col.red(), col.green(), col.blue()))

    def _row_changed(self, row: int) -> None:
        if row >= 0 and not self._filling:
            self.classSelected.emit(row)

    def _item_changed(self, item: QListWidgetItem) -> None:
        if not self._filling:
            self.visibilityChanged.emit(self.list.row(item), item.checkState() == Qt.Checked)


class ReplaceClassDialog(QDialog):
    """Pick class A (to replace) and class B (replacement)."""

    def __init__(self, names: list[str], current: int = 0, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Replace class in the whole image")
        self.source = QComboBox(self)
        self.target = QComboBox(self)
        self.source.addItems(names)
        self.target.addItems(names)
        self.source.setCurrentIndex(max(current, 0))
        self.target.setCurrentIndex(max(current, 0))
        form = QFormLayout(self)
        form.addRow("Replace", self.source)
        form.addRow("with", self.target)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, parent=self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> tuple[int, int]:
        return self.source.currentIndex(), self.target.currentIndex()

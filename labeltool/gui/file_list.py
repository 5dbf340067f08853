"""The list of images with their status (no mask / proposed / corrected) and model confidence."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QCheckBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

STATUS_TEXT = {"none": "no mask", "proposed": "proposed", "corrected": "corrected"}
STATUS_COLOUR = {"none": QColor(150, 150, 150), "proposed": QColor(214, 140, 0), "corrected": QColor(30, 150, 60)}


class _Item(QTreeWidgetItem):
    """Sorts the confidence column by value (no proposal sorts last), the rest by text."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        if column == 2:
            return float(self.data(2, Qt.UserRole)) < float(other.data(2, Qt.UserRole))
        return self.text(column) < other.text(column)


class FileList(QWidget):
    """Shows every image; emits ``activated(index)`` with the index in the project's name order."""

    activated = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Image", "Status", "Confidence"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, Qt.AscendingOrder)
        self.tree.itemActivated.connect(self._on_item)
        self.tree.itemClicked.connect(self._on_item)
        self.summary = QLabel()
        self.by_uncertainty = QCheckBox("Least confident first")
        self.by_uncertainty.setToolTip("Sort by the model's mean confidence, so the images it is least sure "
                                       "about come first: correcting those teaches it most")
        self.by_uncertainty.toggled.connect(self._sort)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree)
        layout.addWidget(self.by_uncertainty)
        self._items: list[QTreeWidgetItem] = []

    def populate(self, names: list[str], statuses: dict[str, str], confidence: dict[str, float]) -> None:
        self.tree.clear()
        self._items = []
        for index, name in enumerate(names):
            item = _Item([name, "", ""])
            item.setData(0, Qt.UserRole, index)
            self._items.append(item)
            self.tree.addTopLevelItem(item)
            self._fill(item, statuses.get(name, "none"), confidence.get(name))
        self._summarise(statuses)
        self._sort()

    def update_statuses(self, names: list[str], statuses: dict[str, str], confidence: dict[str, float]) -> None:
        for name, item in zip(names, self._items, strict=True):
            self._fill(item, statuses.get(name, "none"), confidence.get(name))
        self._summarise(statuses)

    def select(self, index: int) -> None:
        if 0 <= index < len(self._items):
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(self._items[index])
            self.tree.blockSignals(False)

    def status_text(self, index: int) -> str:
        return self._items[index].text(1)

    def _fill(self, item: QTreeWidgetItem, status: str, confidence: float | None) -> None:
        item.setText(1, STATUS_TEXT[status])
        item.setForeground(1, QBrush(STATUS_COLOUR[status]))
        item.setText(2, "" if confidence is None else f"{confidence:.0%}")
        item.setData(2, Qt.UserRole, 2.0 if confidence is None else confidence)

    def _summarise(self, statuses: dict[str, str]) -> None:
        values = list(statuses.values())
        self.summary.setText(f"{len(values)} images: {values.count('corrected')} corrected, "
                             f"{values.count('proposed')} proposed, {values.count('none')} without mask")

    def _sort(self) -> None:
        if self.by_uncertainty.isChecked():
            self.tree.sortItems(2, Qt.AscendingOrder)
        else:
            self.tree.sortItems(0, Qt.AscendingOrder)

    def _on_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        self.activated.emit(int(item.data(0, Qt.UserRole)))

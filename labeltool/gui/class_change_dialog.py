"""Edit ▸ Change classes…: the class list with its colours and how many masks and pixels each class has;
pick an operation (rename, add, merge, reorder, split), the classes it is about and the names. Apply… asks
labeltool.workspace.class_change.plan_change for the Change (the rules are model.project.classes' plan_*);
what cannot be is said in the dialog, which stays open. The window then shows the plan and makes it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from labeltool.workspace.class_change import OPERATIONS, plan_change
from model.errors import LabeltoolError

HINTS = {
    "rename": ("New name:", "Select one class; every mask keeps its pixels (only the name changes)."),
    "add": ("Name:", "A new class at the end of the list; no mask changes."),
    "merge": ("Merge into:", "Select the classes to merge; their pixels become this class (an existing one, "
                             "or a new name in the first one's place)."),
    "reorder": ("", "Drag the classes, or use Move up / Move down; each mask is renumbered so that every "
                    "pixel keeps its meaning."),
    "split": ("New names:", "Select one class; comma-separated new names. Its pixels become the first "
                            "name and must be checked by a person: those masks become edited."),
}
NAME = Qt.UserRole  # the class's name in codes.txt, on each list row


def _swatch(rgb) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*(int(v) for v in rgb)))
    return QIcon(pixmap)


class ClassChangeDialog(QDialog):
    """``change`` is the planned Change once Apply… succeeded (accepted), else None."""

    def __init__(self, codes: list[str], palette, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Change classes")
        self.codes = list(codes)
        self.change = None
        self.colour: tuple[int, int, int] | None = None
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.list.setDragDropMode(QAbstractItemView.InternalMove)
        self.list.setDefaultDropAction(Qt.MoveAction)
        for i, name in enumerate(self.codes):
            item = QListWidgetItem(_swatch(palette[i]), name)
            item.setData(NAME, name)
            self.list.addItem(item)
        self.list.model().rowsMoved.connect(lambda *_: self._moved())  # a drag (or, where Qt moves rows by
        self.list.model().rowsInserted.connect(lambda *_: self._moved())  # inserting them again, this)
        self.counts_label = QLabel("Counting masks and pixels per class…")
        self.up_button, self.down_button = QPushButton("Move up"), QPushButton("Move down")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        moves = QHBoxLayout()
        moves.addWidget(self.up_button)
        moves.addWidget(self.down_button)
        moves.addStretch(1)
        self.operation = QComboBox()
        self.operation.addItems(OPERATIONS)
        self.operation.currentTextChanged.connect(self._operation_changed)
        self.text = QLineEdit()
        self.text_label = QLabel()
        self.colour_button = QPushButton("Colour…")
        self.colour_button.clicked.connect(self._pick_colour)
        self.hint = QLabel(wordWrap=True)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #b00020")
        form = QFormLayout()
        form.addRow("Operation:", self.operation)
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.colour_button)
        form.addRow(self.text_label, row)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.apply_button = buttons.addButton("Apply…", QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("A mask stores class numbers: each change here rewrites every mask so that "
                                "each pixel keeps its meaning. The old list is kept beside the models.",
                                wordWrap=True))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.counts_label)
        layout.addLayout(moves)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._operation_changed(self.operation.currentText())
        self.resize(460, 520)

    # ---- what the person picked -------------------------------------------------------------------
    def selected(self) -> list[str]:
        return [self.list.item(r).data(NAME) for r in range(self.list.count()) if self.list.item(r).isSelected()]

    def order(self) -> list[str]:
        return [self.list.item(r).data(NAME) for r in range(self.list.count())]

    def set_counts(self, counts: list[tuple[int, int]] | None) -> None:
        """Masks and pixels per class (from a worker thread's count), shown on each row."""
        if counts is None or len(counts) != len(self.codes):
            self.counts_label.setText("The masks could not be counted")
            return
        by_name = dict(zip(self.codes, counts, strict=True))
        for r in range(self.list.count()):
            item = self.list.item(r)
            masks, pixels = by_name[item.data(NAME)]
            item.setText(f"{item.data(NAME)}    {masks} mask(s), {pixels:,} px")
        self.counts_label.setText("Counts: masks holding each class, and its pixels over every saved mask")

    def set_operation(self, op: str) -> None:
        self.operation.setCurrentText(op)

    def _operation_changed(self, op: str) -> None:
        label, hint = HINTS[op]
        self.text_label.setText(label)
        self.text.setVisible(op != "reorder")
        self.text_label.setVisible(op != "reorder")
        self.colour_button.setVisible(op == "add")
        self.hint.setText(hint)
        self.error.clear()

    def move_selected(self, delta: int) -> None:
        rows = sorted(self.list.row(item) for item in self.list.selectedItems())
        if not rows or (delta < 0 and rows[0] == 0) or (delta > 0 and rows[-1] == self.list.count() - 1):
            return
        for row in (rows if delta < 0 else reversed(rows)):
            item = self.list.takeItem(row)
            self.list.insertItem(row + delta, item)
            item.setSelected(True)
        self._moved()

    def _moved(self) -> None:
        self.set_operation("reorder")

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(parent=self, title="Colour of the new class")
        if colour.isValid():
            self.set_colour((colour.red(), colour.green(), colour.blue()))

    def set_colour(self, rgb: tuple[int, int, int]) -> None:
        self.colour = tuple(int(v) for v in rgb)
        self.colour_button.setIcon(_swatch(self.colour))

    # ---- Apply… -------------------------------------------------------------------------------------
    def apply(self) -> None:
        """Plan the change; accept when it can be made, else say why here (the dialog stays open)."""
        try:
            self.change = plan_change(self.codes, self.operation.currentText(), self.selected(), self.text.text(),
                                      self.order(), self.colour)
        except LabeltoolError as exc:
            self.change = None
            self.error.setText(str(exc).removeprefix("codes.txt: "))
            return
        self.accept()

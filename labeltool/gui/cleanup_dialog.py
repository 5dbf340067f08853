"""The "Clean up…" dialog: remove islands or fill holes up to a size, for one class or all (the work is
in :mod:`labeltool.editing.cleanup`; the Objects panel runs it)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
)


class CleanupDialog(QDialog):
    """Remove islands smaller than N pixels, or fill holes up to N pixels, for one class or all."""

    def __init__(self, names: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Clean up")
        self.islands = QRadioButton("Remove islands smaller than", self, checked=True)
        self.holes = QRadioButton("Fill holes of at most", self)
        self.size = QSpinBox(self, minimum=0, maximum=10_000_000, value=50, suffix=" px")
        self.size.setToolTip("Islands: objects with fewer pixels take the class around them. "
                             "Holes: 0 fills holes of any size.")
        self.classes = QComboBox(self)
        self.classes.addItem("All classes", None)
        for index, name in enumerate(names):
            self.classes.addItem(name, index)
        form = QFormLayout()
        form.addRow(self.islands)
        form.addRow(self.holes)
        form.addRow("Size", self.size)
        form.addRow("Class", self.classes)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(QLabel("One undo step; preserve mode does not apply.", self))
        lay.addWidget(buttons)

    def choice(self) -> tuple[str, int, list[int] | None]:
        cls = self.classes.currentData()
        size = self.size.value()
        operation = "islands" if self.islands.isChecked() else "holes"
        if operation == "islands":
            size = max(size, 1)
        return operation, size, None if cls is None else [int(cls)]

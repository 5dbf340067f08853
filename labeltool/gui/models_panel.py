"""The Models panel: every model of the dataset with its date, training images, validation figures and
marks (active = the model that proposes, pinned, best, not promoted); promote, pin, roll back, delete; and
an evaluation view (per-class IoU table and confusion matrix) for any model.

The rows are model.registry.registry.model_rows, the same list `labeltool models DATASET --json` prints.
"""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Model", "Date", "Train", "Valid", "Accuracy", "mIoU", "Marks")


def _fig(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def marks_text(row: dict) -> str:
    marks = [m for m in ("active", "pinned", "best") if row.get(m)] + (["classes differ"] if row.get("classes_differ") else [])
    if row.get("promoted") is False:  # the gate compares with the active and the best model
        against = [f"active {Path(str(row.get('compared_with'))).stem}: mIoU {_fig(row.get('compared_miou'))}"]
        best = row.get("compared_best")
        if best and best != row.get("compared_with"):
            against.append(f"best {Path(str(best)).stem}: mIoU {_fig(row.get('compared_best_miou'))}")
        marks.append(f"not promoted ({'; '.join(against)})")
    return ", ".join(marks)



_preloading: threading.Thread | None = None


def _engine_ready() -> bool:
    module = sys.modules.get("model.registry.registry")
    return module is not None and hasattr(module, "model_rows") and (_preloading is None or not _preloading.is_alive())


def preload_engine() -> None:
    """Import the engine's model registry (and torch) on a background thread, once."""
    global _preloading
    if _preloading is None:
        _preloading = threading.Thread(target=importlib.import_module, args=("model.registry.registry",), daemon=True,
                                       name="preload-engine")
        _preloading.start()

class EvaluationView(QWidget):
    """Per-class IoU table and the row-normalised confusion matrix of one model."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Select a model to see its per-class figures")
        self.title.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Class", "IoU", "Pixels"])
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.matrix = QLabel()
        self.matrix.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        scroll = QScrollArea()
        scroll.setWidget(self.matrix)
        scroll.setWidgetResizable(True)
        self.table.setSizeAdjustPolicy(QAbstractItemView.AdjustToContents)
        row = QHBoxLayout()
        row.addWidget(self.table, 0)
        row.addWidget(scroll, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(row, 1)

    def show_metrics(self, title: str, metrics: dict | None) -> None:
        metrics = metrics or {}
        ious = metrics.get("per_class_iou") or {}
        per_class = metrics.get("per_class") or {}
        extra = ""
        if isinstance(metrics.get("miou"), (int, float)):
            extra = f" — mIoU {metrics['miou']:.3f}, pixel accuracy (Void excluded) {_fig(metrics.get('pixel_accuracy'))}"
        self.title.setText(title + (extra if ious else " — no validation figures"))
        order = [c for c in metrics.get("classes") or [] if c in ious] or list(ious)  # codes.txt order (cards sort keys)
        self.table.setRowCount(len(order))
        for r, (name, iou) in enumerate((c, ious[c]) for c in order):
            support = (per_class.get(name) or {}).get("support")
            for c, text in enumerate((name, _fig(iou), "" if support is None else str(support))):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(r, c, item)
        confusion, classes = metrics.get("confusion"), metrics.get("classes")
        if confusion and classes:
            from model.evaluation.evaluate import render_confusion

            ignore = metrics.get("ignore_index")
            if ignore is None:
                ignore = next((i for i, n in enumerate(classes) if n.lower() == "void"), None)
            image = render_confusion(np.asarray(confusion), list(classes), ignore).convert("RGB")
            data = image.tobytes()
            qimage = QImage(data, image.width, image.height, 3 * image.width, QImage.Format_RGB888).copy()
            self.matrix.setPixmap(QPixmap.fromImage(qimage))
        else:
            self.matrix.setPixmap(QPixmap())
            self.matrix.setText("no confusion matrix")


class ModelsPanel(QWidget):
    changed = Signal()  # the active model, pins or the list changed
    evaluate_requested = Signal(str)  # model file name: score it now (a child process; see model_panels)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.models_dir: Path | None = None
        self._rows: list[dict] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)
        self.buttons = {}
        bar = QHBoxLayout()
        for key, text, tip in (
            ("promote", "Promote", "Make the selected model the active one: it proposes from now on"),
            ("pin", "Pin", "Keep the selected model whatever pruning does (pin/unpin)"),
            ("rollback", "Roll back", "Make the previously active model active again"),
            ("delete", "Delete", "Delete the selected model (not the active or a pinned one)"),
            ("evaluate", "Evaluate", "Score the selected model on the current validation images"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(getattr(self, key))
            bar.addWidget(button)
            self.buttons[key] = button
        bar.addStretch(1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.evaluation = EvaluationView()
        split = QSplitter(Qt.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addLayout(bar)
        top_layout.addWidget(self.status)
        split.addWidget(top)
        split.addWidget(self.evaluation)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)
        self._update_buttons()

    # ---- data ----------------------------------------------------------------------------------
    def set_dataset(self, root: str | Path | None) -> None:
        self.models_dir = None if root is None else Path(root) / "models"
        self.refresh()

    def rows(self) -> list[dict]:
        return list(self._rows)

    def refresh(self) -> None:
        if not _engine_ready():  # importing the engine (torch) on the GUI thread froze the window for seconds
            preload_engine()
            QTimer.singleShot(200, self.refresh)
            return
        from model.registry.registry import model_rows

        selected = self.selected_name()
        self._rows = model_rows(self.models_dir, getattr(self, "codes", None)) if self.models_dir is not None else []
        self.table.setRowCount(len(self._rows))
        for r, row in enumerate(self._rows):
            values = (Path(row["name"]).stem, str(row.get("date") or "")[:19].replace("T", " "),
                      str(row["training_images"]), str(row["validation_images"]), _fig(row["pixel_accuracy"]),
                      _fig(row["miou"]), marks_text(row))
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if 2 <= c <= 5:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if row["active"]:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if c == len(values) - 1 and row.get("gate_reason"):
                    item.setToolTip(row["gate_reason"])
                self.table.setItem(r, c, item)
            if row["name"] == selected:
                self.table.selectRow(r)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._rows):
            return None
        return self._rows[rows[0].row()]["name"]

    def select(self, name: str) -> None:
        for r, row in enumerate(self._rows):
            if row["name"] == name:
                self.table.selectRow(r)

    def _selected(self) -> None:
        self._update_buttons()
        name = self.selected_name()
        if name is None or self.models_dir is None:
            return
        from model.errors import ModelFileError
        from model.registry.modelfile import read_card

        try:
            card = read_card(self.models_dir / name)
        except ModelFileError as exc:
            self.status.setText(str(exc))
            return
        validation = card.get("validation") or {}
        source = validation.get("source") or "validation"
        count = len(validation.get("images") or [])
        self.evaluation.show_metrics(f"{Path(name).stem} at the end of its retrain, on {count} images ({source})",
                                     validation.get("metrics"))

    def show_evaluation(self, result: dict) -> None:
        """A `labeltool models --evaluate` result (the current validation images)."""
        self.evaluation.show_metrics(f"{Path(str(result.get('model'))).stem} now, on {result.get('num_images')} "
                                     "validation images", result)

    def _update_buttons(self) -> None:
        row = next((r for r in self._rows if r["name"] == self.selected_name()), None)
        for key in ("promote", "pin", "delete", "evaluate"):
            self.buttons[key].setEnabled(row is not None)
        if row is not None:
            self.buttons["promote"].setEnabled(not row["active"])
            self.buttons["delete"].setEnabled(not row["active"] and not row["pinned"])
            self.buttons["pin"].setText("Unpin" if row["pinned"] else "Pin")
        self.buttons["rollback"].setEnabled(len(self._rows) > 1)

    # ---- actions -------------------------------------------------------------------------------
    def _do(self, action, *args) -> bool:
        from model.errors import LabeltoolError

        if self.models_dir is None:
            return False
        try:
            path = action(self.models_dir, *args)
        except LabeltoolError as exc:
            self.status.setText(str(exc))
            return False
        self.status.setText(f"{action.__name__.replace('_', ' ')}: {Path(path).stem}")
        self.refresh()
        self.changed.emit()
        return True

    def promote(self) -> None:
        from model.registry import registry

        name = self.selected_name()
        if name is not None and self._do(registry.promote, name):
            self.status.setText(f"{Path(name).stem} is the active model; Propose to refresh the masks with it")

    def pin(self) -> None:
        from model.registry import registry

        name = self.selected_name()
        row = next((r for r in self._rows if r["name"] == name), None)
        if row is not None:
            self._do(registry.pin, name, not row["pinned"])

    def rollback(self) -> None:
        from model.registry import registry

        if self._do(registry.roll_back):
            active = next((r["name"] for r in self._rows if r["active"]), "")
            self.status.setText(f"rolled back: {Path(active).stem} is the active model again")

    def delete(self) -> None:
        from model.registry import registry

        name = self.selected_name()
        if name is not None and self.confirm(f"Delete {Path(name).stem} (weights and card)? This cannot be undone."):
            self._do(registry.delete, name)

    def evaluate(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.evaluate_requested.emit(name)

    def confirm(self, question: str) -> bool:
        """Ask the user (tests replace this)."""
        return QMessageBox.question(self, "Models", question) == QMessageBox.Yes

"""Image → Agreement between annotators…: per class, the IoU between the people who labelled the same images
beside the active model's held-out IoU; each annotator's reliability (STAPLE); the images by disagreement, most
first (double-click opens one). The figures come from labeltool.workspace.team.agreement_report."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


class AgreementDialog(QDialog):
    imageChosen = Signal(str)

    def __init__(self, report, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Agreement between annotators")
        self.report = report
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        model = report.model or {}
        theirs = model.get("per_class_iou") or {}
        rows = [*report.per_class_iou.items(), ("mean (mIoU)", report.miou)]
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Class", "IoU between annotators", "Model (held out)"])
        for r, (name, iou) in enumerate(rows):
            model_value = model.get("miou") if r == len(rows) - 1 else theirs.get(name)
            for c, text in enumerate((name, _fmt(iou), _fmt(model_value))):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        layout.addWidget(self.table, 2)
        layout.addWidget(QLabel("Images by disagreement (share of pixels not all agree on); double-click opens one:"))
        self.images = QListWidget(self)
        for name in report.images:
            self.images.addItem(f"{name}   {report.disagreement[name]:.1%}")
        self.images.itemDoubleClicked.connect(lambda item: self.imageChosen.emit(item.text().split("   ")[0]))
        layout.addWidget(self.images, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.summary.setText(self._summary())
        self.resize(560, 720)

    def _summary(self) -> str:
        r = self.report
        if not r.images:
            return ("No image was labelled by two or more people yet. Give an overlap with `labeltool assign`, "
                    "label in copies, then bring them together with `labeltool merge`.")
        text = f"{len(r.images)} images labelled by {len(r.annotators)} annotators: {', '.join(r.annotators)}."
        if r.reliability:
            text += " Reliability (STAPLE): " + ", ".join(f"{w} {v:.3f}" for w, v in r.reliability.items()) + "."
        if not r.model:
            text += " No model yet to compare with."
        return text

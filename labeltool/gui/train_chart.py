"""The live chart of a retrain: train loss (each step, and each epoch's mean) and the validation figures
(mIoU, pixel accuracy without Void) against seconds since the run started, with the ETA; drawn with
pyqtgraph from labeltool.workspace.train_progress.TrainProgress, which follows the progress protocol."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from labeltool.workspace.train_progress import TrainProgress, format_duration

REDRAW_MS = 250  # at most four redraws a second, however fast the steps come


class TrainChart(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True, background="w", foreground="k")
        self.progress: TrainProgress | None = None
        self.header = QLabel("No retrain yet: Retrain on my corrections shows its learning here.")
        self.header.setWordWrap(True)
        self.plots = pg.GraphicsLayoutWidget()
        self.loss_plot = self.plots.addPlot(row=0, col=0, title="train loss")
        self.loss_plot.setLabel("bottom", "seconds")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.3)
        self.loss_plot.addLegend(offset=(-10, 10))
        self.step_curve = self.loss_plot.plot([], [], pen=pg.mkPen((150, 150, 220), width=1), name="step")
        self.epoch_curve = self.loss_plot.plot([], [], pen=pg.mkPen((30, 30, 160), width=2), symbol="o",
                                               symbolSize=6, symbolBrush=(30, 30, 160), name="epoch mean")
        self.val_plot = self.plots.addPlot(row=0, col=1, title="validation (held-out images)")
        self.val_plot.setLabel("bottom", "seconds")
        self.val_plot.setYRange(0, 1)
        self.val_plot.showGrid(x=True, y=True, alpha=0.3)
        self.val_plot.addLegend(offset=(-10, 10))
        self.miou_curve = self.val_plot.plot([], [], pen=pg.mkPen((200, 60, 30), width=2), symbol="o",
                                             symbolSize=6, symbolBrush=(200, 60, 30), name="mIoU")
        self.acc_curve = self.val_plot.plot([], [], pen=pg.mkPen((30, 140, 60), width=2), symbol="t",
                                            symbolSize=6, symbolBrush=(30, 140, 60), name="accuracy")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.header)
        layout.addWidget(self.plots, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.redraw)
        self._epoch = None

    def start(self, progress: TrainProgress) -> None:
        """Follow a new run (its TrainProgress is fed by ModelJobs)."""
        self.progress = progress
        self._epoch = None
        self.header.setText("Starting the trainer…")
        self.redraw()

    def on_event(self, event: dict) -> None:
        if event.get("epoch") is not None:
            self._epoch = event.get("epoch")
        if event.get("event") in ("done", "error", "epoch_end", "start"):
            self.redraw()
            if event.get("event") == "done":
                self.header.setText(self._done_text(event))
            elif event.get("event") == "error":
                self.header.setText(f"Retrain stopped: {event.get('message', '')}")
        elif not self._timer.isActive():
            self._timer.start(REDRAW_MS)

    def redraw(self) -> None:
        p = self.progress
        if p is None:
            return
        if p.loss:
            xs, ys = zip(*p.loss, strict=True)
            self.step_curve.setData(list(xs), list(ys))
        else:
            self.step_curve.setData([], [])
        if p.epoch_loss:
            xs, ys = zip(*p.epoch_loss, strict=True)
            self.epoch_curve.setData(list(xs), list(ys))
        else:
            self.epoch_curve.setData([], [])
        for curve, key in ((self.miou_curve, "miou"), (self.acc_curve, "pixel_accuracy")):
            points = [(t, m[key]) for t, m in p.validation if isinstance(m.get(key), (int, float))]
            curve.setData([t for t, _ in points], [v for _, v in points])
        if p.done is None:
            self.header.setText(self._running_text(p))

    def _running_text(self, p: TrainProgress) -> str:
        parts = []
        if self._epoch is not None:
            parts.append(f"epoch {self._epoch}" + (f" of {p.epochs}" if p.planned else ""))
        parts.append(f"{format_duration(p.elapsed())} elapsed")
        eta = p.eta()
        parts.append(f"about {format_duration(eta)} left" if eta is not None else "estimating the time left…")
        if p.validation:
            last = p.validation[-1][1]
            if isinstance(last.get("miou"), (int, float)):
                parts.append(f"validation mIoU {last['miou']:.3f}")
        return "Training: " + " · ".join(parts)

    @staticmethod
    def _done_text(event: dict) -> str:
        metrics = event.get("metrics") or {}
        figure = (f"mIoU {metrics['miou']:.3f} on {event.get('validation_images', '?')} validation images"
                  if isinstance(metrics.get("miou"), (int, float)) else "not validated")
        name = str(event.get("model", "")).rsplit("/", 1)[-1]
        verdict = ("now the active model" if event.get("promoted") is not False
                   else f"not promoted: {event.get('active')} keeps proposing")
        return f"Done in {format_duration(float(event.get('seconds') or 0))}: {name} ({figure}), {verdict}."

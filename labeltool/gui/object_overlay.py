"""Two layers over the editor's canvas for the Objects panel: the selected object's outline, and "pick
on canvas". They need nothing from the canvas but its public coordinate mapping and ``viewChanged``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QTransform
from PySide6.QtWidgets import QWidget

from labeltool.editing.instances import outline

OUTLINE_RGBA = (255, 255, 0, 255)
FILL_RGBA = (255, 255, 0, 70)


class ObjectHighlight(QWidget):
    """Transparent layer over the canvas drawing the selected object's outline (and a light fill)."""

    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WA_NoSystemBackground)
        self._image: QImage | None = None
        self._buffer: np.ndarray | None = None
        self._origin = (0, 0)
        canvas.installEventFilter(self)
        canvas.viewChanged.connect(self.update)
        self.setGeometry(canvas.rect())

    def eventFilter(self, obj, event):  # noqa: N802
        if obj is self.canvas and event.type() == QEvent.Resize:
            self.setGeometry(self.canvas.rect())
        return False

    def show_region(self, bbox, region: np.ndarray | None) -> None:
        if region is None:
            self._image = self._buffer = None
        else:
            rgba = np.zeros((*region.shape, 4), dtype=np.uint8)
            rgba[region] = FILL_RGBA
            rgba[outline(region)] = OUTLINE_RGBA
            self._buffer = np.ascontiguousarray(rgba)
            h, w = region.shape
            self._image = QImage(self._buffer.data, w, h, 4 * w, QImage.Format_RGBA8888)
            self._origin = (bbox[0], bbox[1])
        self.raise_()
        self.update()

    def paintEvent(self, _event):  # noqa: N802
        if self._image is None:
            return
        p = QPainter(self)
        c = self.canvas
        p.setTransform(QTransform(c.scale, 0, 0, c.scale, c.offset.x(), c.offset.y()))
        y0, x0 = self._origin
        p.drawImage(QRectF(x0, y0, self._image.width(), self._image.height()), self._image)
        p.end()


class PickFilter(QObject):
    """While ``active``, a left click on the canvas is taken (not painted) and emits the pixel under it."""

    picked = Signal(int, int)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.active = False
        canvas.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802
        if (self.active and obj is self.canvas and event.type() == QEvent.MouseButtonPress
                and event.button() == Qt.LeftButton and self.canvas.layer is not None):
            y, x = self.canvas.pixel_at(event.position())
            if self.canvas.layer.contains(y, x):
                self.picked.emit(y, x)
            return True
        return False

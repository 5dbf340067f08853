"""The scribble tool in the editor (key T): strokes drawn over the image, a pixel classifier on a worker thread,
its result applied to the mask as one undo step when ready; plus the superpixel tool's region method.

The Qt-free part is :mod:`labeltool.editing.scribble`; this module only holds the strokes' colour buffer, the
worker polling and two toolbar controls. :func:`install` wires it into an :class:`EditorWidget`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QCheckBox, QComboBox

from labeltool.editing.overlay import pack_argb
from labeltool.editing.scribble import NO_LABEL, REGION_METHODS, ScribbleSession, regions_async

REGION_LABELS = {"slic": "SLIC", "quickshift": "Quickshift", "felzenszwalb": "Felzenszwalb"}


class ScribbleTool(QObject):
    """Strokes, worker and apply-when-ready for one editor."""

    def __init__(self, editor):
        super().__init__(editor)
        self.editor = editor
        self.canvas = editor.canvas
        self.session: ScribbleSession | None = None
        self.drawing = False
        self._last: tuple[int, int] | None = None
        self._buf: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._lut_key = b""
        self._lut = np.zeros(256, np.uint32)
        self._future = None
        self._timer = QTimer(self, interval=40, timeout=self._poll)
        self.region_method = "slic"
        self.only_unsure = True

    # ----------------------------------------------------------------- image
    def reset(self, image: np.ndarray) -> None:
        """A new image is on the canvas: fresh (empty) scribbles; features when the tool is in use."""
        self._future = None
        self._timer.stop()
        self.session = ScribbleSession(image, lazy=True)
        self.session.only_unsure = self.only_unsure
        self._buf = np.zeros(image.shape[:2], np.uint32)
        h, w = self._buf.shape
        self._qimage = QImage(self._buf.data, w, h, w * 4, QImage.Format_ARGB32_Premultiplied)
        if self.canvas.tool == "scribble":
            self.session.prepare()
        if self.region_method != "slic":
            self._compute_regions()

    def activate(self) -> None:
        if self.session is not None:
            self.session.prepare()

    def set_confidence(self, conf: np.ndarray | None) -> None:
        if self.session is not None:
            self.session.set_confidence(conf)

    def set_only_unsure(self, on: bool) -> None:
        self.only_unsure = bool(on)
        if self.session is not None:
            self.session.only_unsure = self.only_unsure

    # ---------------------------------------------------------------- strokes
    def _colours(self) -> np.ndarray:
        layer = self.editor.layer
        key = layer.palette.tobytes()
        if key != self._lut_key:
            lut = np.zeros(256, np.uint32)
            lut[:len(layer.palette)] = pack_argb(layer.palette)
            lut[NO_LABEL] = 0
            self._lut, self._lut_key = lut, key
            if self._buf is not None and self.session is not None:
                np.take(lut, self.session.labels, out=self._buf)
        return self._lut

    def _stroke(self, p0, p1) -> None:
        bbox = self.session.add_stroke(p0, p1, self.canvas.radius, self.canvas.current_class)
        if bbox is None:
            return
        y0, x0, y1, x1 = bbox
        self._buf[y0:y1, x0:x1] = self._colours()[self.session.labels[y0:y1, x0:x1]]
        self.canvas.update(self.canvas.widget_rect(bbox))

    def press(self, y: int, x: int) -> None:
        if self.session is None:
            return
        self.drawing = True
        self._last = (y, x)
        self._stroke((y, x), (y, x))

    def move(self, y: int, x: int) -> None:
        if self.drawing and (y, x) != self._last:
            self._stroke(self._last, (y, x))
            self._last = (y, x)

    def release(self, y: int, x: int) -> None:
        self.move(y, x)
        self.drawing = False
        self._last = None
        self.submit()

    def clear(self) -> None:
        if self.session is None:
            return
        self.session.clear()
        self._buf[...] = 0
        self.canvas.update()
        self.editor.statusMessage.emit("Scribbles cleared")

    # ----------------------------------------------------------------- worker
    def busy(self) -> bool:
        return self._future is not None

    def submit(self) -> None:
        """Classify the current strokes (unless a run is under way: its result triggers the next)."""
        if self.session is None or not self.session.has_scribbles() or self._future is not None:
            return
        self._future = self.session.predict_async()
        self._timer.start()
        if not self.session.features_ready():
            self.editor.statusMessage.emit("Scribble: computing image features…")

    def _poll(self) -> None:
        fut = self._future
        if fut is None or not fut.done():
            return
        self._future = None
        self._timer.stop()
        session, layer = self.session, self.editor.layer
        if fut.exception() is not None:
            self.editor.statusMessage.emit(f"Scribble failed: {fut.exception()}")
            return
        result = fut.result()
        if layer is None or result is None or result.labels.shape != layer.shape or session is None:
            return
        if layer.history.in_transaction:  # a brush stroke is being drawn: try again shortly
            self._future = fut
            self._timer.start()
            return
        self.canvas._finish(session.apply(layer, result))
        if not session.is_current(result):
            self.submit()

    def wait(self, timeout_s: float = 30.0) -> None:
        """Block until the classifier is done and its result applied (for tests and scripts)."""
        import time

        end = time.monotonic() + timeout_s
        while self._future is not None and time.monotonic() < end:
            self._future.result(timeout=max(0.0, end - time.monotonic()))
            self._poll()

    # ---------------------------------------------------------------- drawing
    def paint(self, p: QPainter) -> None:
        c = self.canvas
        if self._qimage is None or c.image is None or self.session is None:
            return
        if self.session.generation:
            self._colours()
            p.save()
            p.setTransform(QTransform(c.scale, 0, 0, c.scale, c.offset.x(), c.offset.y()))
            h, w = self._buf.shape
            p.drawImage(QRectF(0, 0, w, h), self._qimage)
            p.restore()
        if c.tool == "scribble" and c._mouse is not None:
            p.setRenderHint(QPainter.Antialiasing, True)
            r = c.brush_outline_radius()
            centre: QPointF = c._cursor_centre()
            for colour, width in ((QColor(0, 0, 0), 3.0), (QColor(255, 255, 255), 1.0)):
                p.setPen(QPen(colour, width, Qt.DashLine if width < 2 else Qt.SolidLine))
                p.drawEllipse(centre, r, r)

    # ---------------------------------------------------------------- regions
    def set_region_method(self, method: str) -> None:
        if method not in REGION_METHODS:
            raise ValueError(f"region method must be one of {REGION_METHODS}, got {method!r}")
        if method != self.region_method:
            self.region_method = method
            self._compute_regions()

    def _compute_regions(self) -> None:
        ed = self.editor
        if self.canvas.image is None:
            return
        self.canvas.superpixels = None
        ed._sp_future = regions_async(self.canvas.image, self.region_method)
        ed._sp_timer.start()
        ed.statusMessage.emit(f"Computing {REGION_LABELS[self.region_method]} regions…")


def install(editor) -> ScribbleTool:
    """Create the tool for ``editor``, hand it to the canvas and add its two toolbar controls."""
    tool = ScribbleTool(editor)
    editor.canvas.scribble_tool = tool
    combo = QComboBox(editor)
    for m in REGION_METHODS:
        combo.addItem(f"Regions: {REGION_LABELS[m]}", m)
    combo.setToolTip("How the superpixel tool (S) splits the image")
    combo.currentIndexChanged.connect(lambda _i: tool.set_region_method(combo.currentData()))
    only = QCheckBox("Scribble: only unsure", editor, checked=True)
    only.setToolTip("With a proposal's confidence map, scribble results replace only the pixels the network "
                    "is unsure of (confidence below 50 %). Pixels you painted are never replaced.")
    only.toggled.connect(tool.set_only_unsure)
    editor.toolbar.addSeparator()
    editor.toolbar.addWidget(combo)
    editor.toolbar.addWidget(only)
    tool.region_combo, tool.only_unsure_check = combo, only
    return tool

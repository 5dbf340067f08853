"""ImageView: paints image + class overlay (+ low-confidence layer) with zoom/pan,
pixel grid and brush cursor.  Only the exposed rectangle of the image is drawn.

Display windowing: the view keeps the image data as read (``raw``: any dtype, any bands) and shows
``display_rgb(raw, display_window)`` (min/max, gamma, auto-levels; ``model.images.imageio``). Changing the
window rebuilds only the picture on screen; the data is never written to."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QSizePolicy, QWidget

from labeltool.editing import LabelLayer, Overlay, confidence_overlay
from model.images.display import DisplayWindow, display_rgb

MIN_SCALE, MAX_SCALE = 1 / 64, 64.0
GRID_MIN_SCALE = 8.0


def _wrap_argb(buf: np.ndarray) -> QImage:
    h, w = buf.shape
    return QImage(buf.data, w, h, buf.strides[0], QImage.Format_ARGB32_Premultiplied)


class ImageView(QWidget):
    viewChanged = Signal()         # zoom / pan changed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(200, 150)
        self.setCursor(Qt.CrossCursor)
        self.layer: LabelLayer | None = None
        self.overlay: Overlay | None = None
        self.image: np.ndarray | None = None  # (H, W, 3) uint8 as shown (the tools see this)
        self.raw: np.ndarray | None = None  # the data as read; never written to
        self.display_window: DisplayWindow | None = None  # None: 8-bit as stored, else auto-levels
        self._qimage: QImage | None = None
        self._qoverlay: QImage | None = None
        self._conf_buf: np.ndarray | None = None
        self._qconf: QImage | None = None
        self.superpixels = None
        self.tool = "brush"
        self.radius = 5
        self.tolerance = 24
        self.current_class = 0
        self.opacity = 0.5
        self.show_mask = True
        self.show_confidence = False
        self.show_grid = True
        self.outline = False  # draw only the class boundaries, opaque (View → Outline only)
        self.confidence: np.ndarray | None = None  # the proposal's per-pixel confidence, for the cursor text
        self.scale = 1.0
        self.offset = QPointF(0, 0)
        self._auto_fit = True
        self._mouse: QPointF | None = None
        self._space = False
        self._pan_from: QPointF | None = None
        self._stroke_last: tuple[float, float] | None = None
        self._line_anchor: tuple[float, float] | None = None
        self.polygon_points: list[tuple[float, float]] = []
        self.last_update_rect = QRect()

    # ------------------------------------------------------------ content
    def set_content(self, image: np.ndarray | None, layer: LabelLayer | None, raw: np.ndarray | None = None) -> None:
        """Show ``image`` ((H, W, 3) uint8) or, when ``raw`` (the data as read) is given, ``raw``
        through the current display window."""
        self.raw = raw if raw is not None else image
        if raw is not None and image is None:
            image = display_rgb(raw, self.display_window)
        self.image, self.layer = image, layer
        self.polygon_points = []
        self._stroke_last = self._line_anchor = None
        self.superpixels = None
        self._conf_buf = self._qconf = None
        self.confidence = None
        if image is None or layer is None:
            self.overlay = self._qimage = self._qoverlay = None
        else:
            self._qimage = self._picture(image)
            self.overlay = Overlay(layer.mask, layer.palette, layer.visible, layer.unpainted, outline=self.outline)
            self._qoverlay = _wrap_argb(self.overlay.buffer)
        self._auto_fit = True
        self.fit_to_window()

    @staticmethod
    def _picture(image: np.ndarray) -> QImage:
        h, w = image.shape[:2]
        return QImage(image.data, w, h, image.strides[0], QImage.Format_RGB888).convertToFormat(QImage.Format_RGB32)

    def set_display_window(self, window: DisplayWindow | dict | None) -> None:
        """Show the data through ``window`` (None: the default). Only the picture changes."""
        if isinstance(window, dict):
            window = DisplayWindow.from_dict(window)
        self.display_window = window
        if self.raw is not None and self.layer is not None:
            self.image = display_rgb(self.raw, window)
            self._qimage = self._picture(self.image)
            self.update()

    def set_confidence(self, conf: np.ndarray | None, threshold: float = 0.5) -> None:
        if conf is None or self.layer is None:
            self._conf_buf = self._qconf = self.confidence = None
        else:
            if conf.shape != self.layer.shape:
                raise ValueError(f"confidence shape {conf.shape} does not match mask {self.layer.shape}")
            self._conf_buf = confidence_overlay(conf, threshold)
            self.confidence = conf
            self._qconf = _wrap_argb(self._conf_buf)
        self.update()

    def has_confidence(self) -> bool:
        return self._qconf is not None

    def set_outline(self, on: bool) -> None:
        """Outline only (True: the class boundaries in their colours, drawn opaque) or filled (False)."""
        self.outline = bool(on)
        if self.overlay is not None:
            self.overlay.set_outline(self.outline)
        self.update()

    def refresh_palette(self) -> None:
        if self.overlay is not None and self.layer is not None:
            self.overlay.set_palette(self.layer.palette, self.layer.visible)
        self.update()

    # -------------------------------------------------------- coordinates
    def to_image(self, p: QPointF) -> tuple[float, float]:
        """Widget point → image (y, x) in pixel units (pixel centres at k + 0.5)."""
        return ((p.y() - self.offset.y()) / self.scale, (p.x() - self.offset.x()) / self.scale)

    def pixel_at(self, p: QPointF) -> tuple[int, int]:
        y, x = self.to_image(p)
        return math.floor(y), math.floor(x)

    def widget_point(self, y: float, x: float) -> QPointF:
        """Image (y, x) → widget point (use k + 0.5 for a pixel's centre)."""
        return QPointF(self.offset.x() + x * self.scale, self.offset.y() + y * self.scale)

    def widget_rect(self, bbox) -> QRect:
        y0, x0, y1, x1 = bbox
        a, b = self.widget_point(y0, x0), self.widget_point(y1, x1)
        return QRect(math.floor(a.x()) - 2, math.floor(a.y()) - 2,
                     math.ceil(b.x() - a.x()) + 4, math.ceil(b.y() - a.y()) + 4)

    # --------------------------------------------------------------- view
    def _set_view(self, scale: float, offset: QPointF) -> None:
        self.scale = min(max(scale, MIN_SCALE), MAX_SCALE)
        self.offset = offset
        self.update()
        self.viewChanged.emit()

    def fit_to_window(self) -> None:
        self._auto_fit = True
        if self.image is None:
            self._set_view(1.0, QPointF(0, 0))
            return
        h, w = self.image.shape[:2]
        s = min(self.width() / w, self.height() / h)
        self._set_view(s, QPointF((self.width() - w * s) / 2, (self.height() - h * s) / 2))

    def zoom_at(self, factor: float, anchor: QPointF | None = None) -> None:
        self._auto_fit = False
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        y, x = self.to_image(anchor)
        s = min(max(self.scale * factor, MIN_SCALE), MAX_SCALE)
        self._set_view(s, QPointF(anchor.x() - x * s, anchor.y() - y * s))

    def zoom_1to1(self) -> None:
        self.zoom_at(1.0 / self.scale)

    def pan_by(self, dx: float, dy: float) -> None:
        self._auto_fit = False
        self._set_view(self.scale, QPointF(self.offset.x() + dx, self.offset.y() + dy))

    def resizeEvent(self, e):  # noqa: N802
        if self._auto_fit:
            self.fit_to_window()
        super().resizeEvent(e)

    # ----------------------------------------------------------- painting
    def paintEvent(self, e):  # noqa: N802
        p = QPainter(self)
        p.fillRect(e.rect(), QColor(48, 48, 48))
        if self._qimage is None:
            p.setPen(QColor(170, 170, 170))
            p.drawText(self.rect(), Qt.AlignCenter, "No image")
            return
        h, w = self.image.shape[:2]
        y0, x0 = self.to_image(QPointF(e.rect().topLeft()))
        y1, x1 = self.to_image(QPointF(e.rect().bottomRight()) + QPointF(1, 1))
        ix0, iy0 = max(math.floor(x0) - 1, 0), max(math.floor(y0) - 1, 0)
        ix1, iy1 = min(math.ceil(x1) + 1, w), min(math.ceil(y1) + 1, h)
        if ix0 < ix1 and iy0 < iy1:
            src = QRectF(ix0, iy0, ix1 - ix0, iy1 - iy0)
            p.save()
            p.setClipRect(e.rect())
            p.setTransform(QTransform(self.scale, 0, 0, self.scale, self.offset.x(), self.offset.y()))
            p.setRenderHint(QPainter.SmoothPixmapTransform, self.scale < 1)
            p.drawImage(src, self._qimage, src)
            if self.show_mask and self._qoverlay is not None:
                p.setOpacity(1.0 if self.outline else self.opacity)  # thin lines at half opacity fade out
                p.drawImage(src, self._qoverlay, src)
                p.setOpacity(1.0)
            if self.show_confidence and self._qconf is not None:
                p.drawImage(src, self._qconf, src)
            p.restore()
            if self.show_grid and self.scale >= GRID_MIN_SCALE:
                self._paint_grid(p, ix0, iy0, ix1, iy1)
        self._paint_tool_overlay(p)

    def _paint_grid(self, p: QPainter, ix0, iy0, ix1, iy1) -> None:
        p.setPen(QPen(QColor(0, 0, 0, 90), 0))
        top, bottom = self.widget_point(iy0, 0).y(), self.widget_point(iy1, 0).y()
        left, right = self.widget_point(0, ix0).x(), self.widget_point(0, ix1).x()
        for x in range(ix0, ix1 + 1):
            wx = self.widget_point(0, x).x()
            p.drawLine(QPointF(wx, top), QPointF(wx, bottom))
        for y in range(iy0, iy1 + 1):
            wy = self.widget_point(y, 0).y()
            p.drawLine(QPointF(left, wy), QPointF(right, wy))

    def brush_outline_radius(self) -> float:
        """Radius of the brush cursor circle in widget pixels (real brush size)."""
        return (self.radius + 0.5) * self.scale

    def _paint_tool_overlay(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.Antialiasing, True)
        if self.polygon_points:
            p.setPen(QPen(QColor(255, 255, 0), 1.5))
            pts = [self.widget_point(y + 0.5, x + 0.5) for y, x in self.polygon_points]
            if self._mouse is not None:
                pts.append(self._mouse)
            for a, b in zip(pts, pts[1:], strict=False):
                p.drawLine(a, b)
            for q in pts[:-1] if self._mouse is not None else pts:
                p.drawEllipse(q, 3, 3)
        if self._mouse is None or self.tool not in ("brush", "eraser"):
            return
        r = self.brush_outline_radius()
        if self._line_anchor is not None:
            a = self.widget_point(self._line_anchor[0] + 0.5, self._line_anchor[1] + 0.5)
            p.setPen(QPen(QColor(255, 255, 255, 160), max(1.0, 2 * r), Qt.SolidLine, Qt.RoundCap))
            p.drawLine(a, self._mouse)
        for colour, width in ((QColor(0, 0, 0), 3.0), (QColor(255, 255, 255), 1.0)):
            p.setPen(QPen(colour, width))
            p.drawEllipse(self._cursor_centre(), r, r)

    def _cursor_centre(self) -> QPointF:
        y, x = self.pixel_at(self._mouse)
        return self.widget_point(y + 0.5, x + 0.5)

    def _cursor_rect(self) -> QRect:
        if self._mouse is None:
            return QRect()
        c, r = self._cursor_centre(), self.brush_outline_radius() + 4
        return QRect(math.floor(c.x() - r), math.floor(c.y() - r), math.ceil(2 * r) + 2, math.ceil(2 * r) + 2)

    def _repaint_cursor(self, new_pos: QPointF | None) -> None:
        old = self._cursor_rect()
        self._mouse = new_pos
        if self.polygon_points or self._line_anchor is not None:
            self.update()
        else:
            self.update(old.united(self._cursor_rect()))


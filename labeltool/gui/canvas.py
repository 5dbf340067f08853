"""Canvas: the mouse/keyboard side of every editing tool on top of :class:`ImageView`.
Edits recolour the overlay only inside their bbox and repaint only that rectangle."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter

from labeltool.editing.history import Change

from .canvas_view import GRID_MIN_SCALE, MAX_SCALE, MIN_SCALE, ImageView

TOOLS = ("brush", "eraser", "fill", "wand", "superpixel", "polygon", "eyedropper", "scribble")

__all__ = ["Canvas", "TOOLS", "GRID_MIN_SCALE", "MAX_SCALE", "MIN_SCALE"]


class Canvas(ImageView):
    edited = Signal(object)        # Change | None, after a finished step
    hover = Signal(str)            # status text for the pixel under the cursor
    classPicked = Signal(int)      # eyedropper result
    strokeStarted = Signal()       # the first dab of a brush/eraser stroke (the mask is being edited)
    scribble_tool = None           # labeltool.gui.scribble_tool.ScribbleTool, set by its install()

    # -------------------------------------------------------------- edits
    def apply_change(self, change: Change | None) -> None:
        """Recolour the overlay for ``change`` and repaint just that rectangle."""
        if change is None or self.overlay is None:
            return
        bbox = self.overlay.update(change)
        self.last_update_rect = self.widget_rect(bbox)
        self.update(self.last_update_rect)

    def _finish(self, change: Change | None) -> None:
        self.apply_change(change)
        self.edited.emit(change)

    def undo(self) -> None:
        if self.layer is not None and not self.layer.history.in_transaction:
            self._finish(self.layer.undo())

    def redo(self) -> None:
        if self.layer is not None and not self.layer.history.in_transaction:
            self._finish(self.layer.redo())

    def replace_class(self, a: int, b: int) -> None:
        if self.layer is not None:
            self._finish(self.layer.replace_class(a, b))

    def set_radius(self, r: int) -> None:
        old = self._cursor_rect()
        self.radius = int(min(max(r, 0), 500))
        self.update(old.united(self._cursor_rect()))

    def _paint_value(self) -> int:
        return self.layer.eraser_value if self.tool == "eraser" else self.current_class

    def pick(self, y: int, x: int) -> None:
        if self.layer is not None and self.layer.contains(y, x):
            self.classPicked.emit(self.layer.class_at(y, x))

    def close_polygon(self) -> None:
        pts, self.polygon_points = self.polygon_points, []
        if len(pts) >= 3 and self.layer is not None:
            self._finish(self.layer.polygon([(y + 0.5, x + 0.5) for y, x in pts], self.current_class))
        self.update()

    def cancel_polygon(self) -> None:
        self.polygon_points = []
        self.update()

    def _click(self, y: int, x: int) -> None:
        layer, t = self.layer, self.tool
        if not layer.contains(y, x):
            return
        if t == "fill":
            self._finish(layer.fill(y, x, self.current_class))
        elif t == "wand":
            self._finish(layer.wand(self.image, y, x, self.tolerance, self.current_class))
        elif t == "superpixel":
            if self.superpixels is None:
                self.hover.emit("Superpixels are still being computed for this image…")
            else:
                self._finish(layer.superpixel(self.superpixels, y, x, self.current_class))
        elif t == "eyedropper":
            self.pick(y, x)

    # -------------------------------------------------------------- mouse
    def mousePressEvent(self, e):  # noqa: N802
        pos = e.position()
        if e.button() == Qt.MiddleButton or (e.button() == Qt.LeftButton and self._space):
            self._pan_from = pos
            self.setCursor(Qt.ClosedHandCursor)
            return
        if self.layer is None:
            return
        y, x = self.pixel_at(pos)
        if e.button() == Qt.RightButton and self.tool == "polygon":
            self.close_polygon()
            return
        if e.button() != Qt.LeftButton:
            return
        if e.modifiers() & Qt.AltModifier:
            self.pick(y, x)
        elif self.tool in ("brush", "eraser"):
            if e.modifiers() & Qt.ShiftModifier:
                self._line_anchor = (y, x)
                self.update()
            else:
                self._stroke_last = (y, x)
                self.layer.begin_step(self.tool)
                self.strokeStarted.emit()
                self.apply_change(self.layer.dab(y, x, self.radius, self._paint_value()))
        elif self.tool == "scribble" and self.scribble_tool is not None:
            self.scribble_tool.press(y, x)
        elif self.tool == "polygon":
            if len(self.polygon_points) >= 3:
                first = self.widget_point(self.polygon_points[0][0] + 0.5, self.polygon_points[0][1] + 0.5)
                if (first - pos).manhattanLength() <= 8:
                    self.close_polygon()
                    return
            self.polygon_points.append((y, x))
            self.update()
        else:
            self._click(y, x)

    def mouseMoveEvent(self, e):  # noqa: N802
        pos = e.position()
        if self._pan_from is not None:
            d = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(d.x(), d.y())
            return
        self._repaint_cursor(pos)
        if self.layer is None:
            return
        y, x = self.pixel_at(pos)
        self.hover.emit(self.describe(y, x))
        if self._stroke_last is not None and e.buttons() & Qt.LeftButton:
            self.apply_change(self.layer.stroke_segment(self._stroke_last, (y, x), self.radius,
                                                        self._paint_value()))
            self._stroke_last = (y, x)
        elif self.scribble_tool is not None and self.scribble_tool.drawing and e.buttons() & Qt.LeftButton:
            self.scribble_tool.move(y, x)

    def mouseReleaseEvent(self, e):  # noqa: N802
        if self._pan_from is not None and e.button() in (Qt.MiddleButton, Qt.LeftButton):
            self._pan_from = None
            self.setCursor(Qt.OpenHandCursor if self._space else Qt.CrossCursor)
            return
        if self.layer is None or e.button() != Qt.LeftButton:
            return
        y, x = self.pixel_at(e.position())
        if self.scribble_tool is not None and self.scribble_tool.drawing:
            self.scribble_tool.release(y, x)
        elif self._line_anchor is not None:
            anchor, self._line_anchor = self._line_anchor, None
            self.update()
            self._finish(self.layer.stroke_segment(anchor, (y, x), self.radius, self._paint_value()))
        elif self._stroke_last is not None:
            if (y, x) != self._stroke_last:
                self.apply_change(self.layer.stroke_segment(self._stroke_last, (y, x), self.radius,
                                                            self._paint_value()))
            self._stroke_last = None
            self.edited.emit(self.layer.end_step())

    def mouseDoubleClickEvent(self, e):  # noqa: N802
        if self.tool == "polygon" and e.button() == Qt.LeftButton and self.layer is not None:
            self.close_polygon()
        else:
            super().mouseDoubleClickEvent(e)

    def paintEvent(self, e):  # noqa: N802
        super().paintEvent(e)
        if self.scribble_tool is not None:
            p = QPainter(self)
            p.setClipRect(e.rect())
            self.scribble_tool.paint(p)
            p.end()

    def wheelEvent(self, e):  # noqa: N802
        steps = e.angleDelta().y() / 120.0
        if steps:
            self.zoom_at(1.25 ** steps, e.position())
        e.accept()

    def leaveEvent(self, e):  # noqa: N802
        self._repaint_cursor(None)
        super().leaveEvent(e)

    def keyPressEvent(self, e):  # noqa: N802
        if e.key() == Qt.Key_Space:
            if not e.isAutoRepeat():
                self._space = True
                self.setCursor(Qt.OpenHandCursor)
            return
        if e.key() == Qt.Key_Escape and self.tool == "scribble" and self.scribble_tool is not None:
            self.scribble_tool.clear()
            return
        if e.key() == Qt.Key_Escape and self.polygon_points:
            self.cancel_polygon()
            return
        if e.key() == Qt.Key_Backspace and self.polygon_points:
            self.polygon_points.pop()
            self.update()
            return
        super().keyPressEvent(e)

    def keyReleaseEvent(self, e):  # noqa: N802
        if e.key() == Qt.Key_Space and not e.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.setCursor(Qt.CrossCursor)
            return
        super().keyReleaseEvent(e)

    def describe(self, y: int, x: int) -> str:
        if self.layer is None or not self.layer.contains(y, x):
            return f"x={x}, y={y} (outside image)  zoom {self.scale * 100:.0f}%"
        c = self.layer.class_at(y, x)
        text = f"x={x}, y={y}, class={self.layer.names[c]} ({c})"
        if self.layer.unpainted is not None and self.layer.unpainted[y, x]:
            text = f"x={x}, y={y}, no class yet (not painted)"
        if self.confidence is not None:
            text += f", confidence {float(self.confidence[y, x]) * 100:.0f}%"
        return f"{text}  zoom {self.scale * 100:.0f}%"

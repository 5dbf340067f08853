"""EditorWidget: tool bar + canvas + palette panel + view controls around a LabelLayer."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from labeltool.editing import PRESERVE_CLASS, PRESERVE_OFF, PRESERVE_VOID, LabelLayer, guess_void_index
from labeltool.editing.regions import superpixels_async
from model.images.display import display_rgb

from . import instances_panel, scribble_tool
from .canvas import TOOLS, Canvas
from .display_dialog import DisplayDialog
from .palette_panel import PalettePanel, ReplaceClassDialog
from .shortcuts import ShortcutsDialog, shortcut_table

TOOL_LABELS = {"brush": "Brush", "eraser": "Eraser", "fill": "Fill", "wand": "Wand",
               "superpixel": "Superpixel", "polygon": "Polygon", "eyedropper": "Eyedropper",
               "scribble": "Scribble"}
_SHIFTED = {"{", "}", "?", "+"}
PRESERVE_CHOICES = [(PRESERVE_OFF, "Paint over all"), (PRESERVE_VOID, "Only over Void"),
                    (PRESERVE_CLASS, "Only over class:")]


class EditorWidget(QWidget):
    dirtyChanged = Signal(bool)
    edited = Signal()
    statusMessage = Signal(str)
    paletteChanged = Signal(object)
    displayChanged = Signal(object)  # the display window the user chose (a dict), to keep per project

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layer: LabelLayer | None = None
        self.canvas = Canvas(self)
        self.palette_panel = PalettePanel(self)
        self._dirty = False
        self._sp_future = None
        self._sp_timer = QTimer(self, interval=100, timeout=self._poll_superpixels)
        self._dialog = None
        self._build_controls()
        self._build_actions()
        self.objects_panel = instances_panel.install(self)  # objects of a class, clean up (issue 10)
        self.scribble_tool = scribble_tool.install(self)  # scribble-to-mask, region method (issue 11)
        self.canvas.edited.connect(self._on_edited)
        self.canvas.hover.connect(self.statusMessage)
        self.canvas.classPicked.connect(self.set_class)
        self.palette_panel.classSelected.connect(self._class_selected)
        self.palette_panel.visibilityChanged.connect(self._visibility_changed)
        self.palette_panel.colorChanged.connect(self._color_changed)
        self.set_tool("brush")
        self._update_enabled()

    # ------------------------------------------------------------- layout
    def _build_controls(self) -> None:
        self.toolbar = QToolBar(self)
        self.radius_spin = QSpinBox(self, minimum=0, maximum=500, value=self.canvas.radius)
        self.radius_spin.setPrefix("r=")
        self.radius_spin.valueChanged.connect(self.canvas.set_radius)
        self.tolerance_spin = QSpinBox(self, minimum=0, maximum=255, value=self.canvas.tolerance)
        self.tolerance_spin.setPrefix("tol ")
        self.tolerance_spin.valueChanged.connect(lambda v: setattr(self.canvas, "tolerance", v))
        self.preserve_combo = QComboBox(self)
        for mode, label in PRESERVE_CHOICES:
            self.preserve_combo.addItem(label, mode)
        self.preserve_class_combo = QComboBox(self)
        self.preserve_combo.currentIndexChanged.connect(self._preserve_changed)
        self.preserve_class_combo.currentIndexChanged.connect(self._preserve_changed)
        self.opacity_slider = QSlider(Qt.Horizontal, self, minimum=0, maximum=100, value=50)
        self.opacity_slider.setFixedWidth(110)
        self.opacity_slider.valueChanged.connect(self._opacity_changed)
        self.mask_check = QCheckBox("Mask", self, checked=True)
        self.mask_check.toggled.connect(self._mask_toggled)
        self.conf_check = QCheckBox("Low confidence", self)
        self.conf_check.toggled.connect(self._conf_toggled)
        self.grid_check = QCheckBox("Grid", self, checked=True)
        self.grid_check.toggled.connect(self._grid_toggled)
        # a second tool bar, not a row of widgets: what does not fit a narrow window goes behind the tool
        # bar's extension button (») instead of setting the window's minimum width (it was 1238 px)
        self.options_bar = QToolBar("Brush, wand and view options", self)
        for w in (QLabel("Brush"), self.radius_spin, QLabel("Wand"), self.tolerance_spin,
                  QLabel("Preserve"), self.preserve_combo, self.preserve_class_combo,
                  QLabel("Opacity"), self.opacity_slider, self.mask_check, self.conf_check, self.grid_check):
            self.options_bar.addWidget(w)
        split = QSplitter(Qt.Horizontal, self)
        split.addWidget(self.canvas)
        split.addWidget(self.palette_panel)
        split.setStretchFactor(0, 1)
        split.setSizes([800, 200])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.toolbar)
        lay.addWidget(self.options_bar)
        lay.addWidget(split, 1)

    def _build_actions(self) -> None:
        handlers = {
            "replace_class": self.open_replace_dialog,
            "brush_smaller": lambda: self.set_brush_radius(self._radius_step(-1)),
            "brush_bigger": lambda: self.set_brush_radius(self._radius_step(+1)),
            "wand_tolerance_down": lambda: self.tolerance_spin.setValue(self.tolerance_spin.value() - 4),
            "wand_tolerance_up": lambda: self.tolerance_spin.setValue(self.tolerance_spin.value() + 4),
            "preserve_cycle": lambda: self.preserve_combo.setCurrentIndex(
                (self.preserve_combo.currentIndex() + 1) % self.preserve_combo.count()),
            "find_class": lambda: (self.palette_panel.search.setFocus(), self.palette_panel.search.selectAll()),
            "undo": self.undo, "redo": self.redo,
            "zoom_fit": self.canvas.fit_to_window, "zoom_1to1": self.canvas.zoom_1to1,
            "zoom_in": lambda: self.canvas.zoom_at(1.25), "zoom_out": lambda: self.canvas.zoom_at(0.8),
            "toggle_mask": self.mask_check.toggle, "toggle_confidence": self.conf_check.toggle,
            "toggle_grid": self.grid_check.toggle,
            "opacity_down": lambda: self.opacity_slider.setValue(self.opacity_slider.value() - 10),
            "opacity_up": lambda: self.opacity_slider.setValue(self.opacity_slider.value() + 10),
            "show_shortcuts": self.show_shortcuts,
            "display_window": self.open_display_dialog,
            "toggle_objects": lambda: self.objects_panel.setVisible(self.objects_panel.isHidden()),
            "clean_up": lambda: self.objects_panel.open_cleanup(),
        }
        for t in TOOLS:
            handlers[f"tool_{t}"] = lambda t=t: self.set_tool(t)
        for i in range(10):
            handlers[f"class_{i}"] = lambda i=i: self.set_class(i)
        self.actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for sc in shortcut_table():
            if sc.id is None:
                continue
            act = QAction(TOOL_LABELS.get(sc.id[5:], sc.description), self)
            keys = list(sc.keys)
            keys += [f"Shift+{k}" for k in sc.keys if k in _SHIFTED]  # as sent by US keyboards
            act.setShortcuts([QKeySequence(k) for k in keys])
            act.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            act.setToolTip(f"{sc.description} ({' / '.join(sc.keys)})")
            if sc.id.startswith("tool_"):
                act.setCheckable(True)
                group.addAction(act)
                self.toolbar.addAction(act)
            act.triggered.connect(lambda _checked=False, f=handlers[sc.id]: f())
            self.addAction(act)
            self.actions[sc.id] = act
        self.toolbar.addSeparator()
        for key in ("replace_class", "undo", "redo", "zoom_fit", "zoom_1to1", "show_shortcuts"):
            self.actions[key].setText({"replace_class": "Replace…", "undo": "Undo", "redo": "Redo",
                                       "zoom_fit": "Fit", "zoom_1to1": "1:1", "show_shortcuts": "?"}[key])
            self.toolbar.addAction(self.actions[key])

    # ------------------------------------------------------------ loading
    def load(self, image: np.ndarray, mask: np.ndarray | None, names: list[str], palette: np.ndarray,
             void_index: int | None, unpainted: np.ndarray | None = None) -> None:
        """Show ``image`` with ``mask`` (None: a new mask). Without a mask in a project without a Void
        class every pixel starts *unpainted* (shown clear, refused by Accept until painted); for a
        saved mask, ``unpainted`` is the map its stamp kept (``Project.load_unpainted``), if any."""
        raw = np.asarray(image)  # the data as read (any dtype and bands); the canvas shows it windowed
        raw = raw[:, :, None] if raw.ndim == 2 else raw
        if raw.ndim != 3 or raw.shape[2] < 1:
            raise ValueError(f"image must be an HxW or HxWxC array, got {raw.shape} {raw.dtype}")
        image = np.ascontiguousarray(display_rgb(raw, self.canvas.display_window))
        warn = None
        if void_index is None:
            void_index = guess_void_index(names)
            if void_index is None:
                warn = "No Void/unlabelled class: the eraser paints class 0 (" + str(names[0] if names else "") + ")"
        if mask is None:
            mask = np.full(image.shape[:2], void_index or 0, dtype=np.uint8)
            unpainted = np.ones(mask.shape, dtype=bool) if void_index is None else None
        elif np.shape(mask) != image.shape[:2]:
            raise ValueError(f"mask shape {np.shape(mask)} does not match image {image.shape[:2]}")
        previous = self.layer
        same_classes = previous is not None and list(previous.names) == list(names)
        keep_class = self.canvas.current_class if same_classes else None
        keep_preserve = (self.preserve_combo.currentIndex(), self.preserve_class_combo.currentIndex()) \
            if same_classes else None
        keep_conf = self.conf_check.isChecked() if same_classes else False
        layer = LabelLayer(mask, names, palette, void_index, unpainted=unpainted)
        self.layer = layer
        if void_index is not None:
            layer.visible[void_index] = False  # unlabelled pixels show the image
        self.canvas.set_content(image, layer, raw=raw)
        self.palette_panel.set_classes(layer.names, layer.palette, layer.visible)
        self.preserve_class_combo.blockSignals(True)
        self.preserve_class_combo.clear()
        self.preserve_class_combo.addItems(layer.names)
        self.preserve_class_combo.blockSignals(False)
        # the next image of the same project keeps the chosen class, preserve mode and highlight (found under
        # Xvfb: every image change went back to the first class, so the next stroke painted the wrong one)
        if keep_preserve is not None:
            self.preserve_class_combo.setCurrentIndex(keep_preserve[1])
            self.preserve_combo.setCurrentIndex(keep_preserve[0])
        else:
            self.preserve_combo.setCurrentIndex(0)
        self.conf_check.setChecked(keep_conf)
        self.set_class(keep_class if keep_class is not None else (0 if void_index != 0 or len(names) == 1 else 1))
        self._sp_future = superpixels_async(image)
        self._sp_timer.start()
        self.scribble_tool.reset(image)
        self._set_dirty(False)
        self._update_enabled()
        if warn:
            self.statusMessage.emit(warn)

    def mask(self) -> np.ndarray:
        return np.zeros((0, 0), np.uint8) if self.layer is None else self.layer.mask.copy()

    def is_dirty(self) -> bool:
        return self.layer is not None and self.layer.is_dirty()

    def mark_saved(self, state_id: int | None = None) -> None:
        """Saved as it is now, or as it was at history state ``state_id`` (later edits stay dirty)."""
        if self.layer is not None:
            self.layer.mark_saved(state_id)
        self._set_dirty(self.is_dirty())

    def set_unpainted(self, unpainted: np.ndarray | None) -> None:
        """Replace the shown image's map of pixels nobody painted (None: every pixel counts as painted)."""
        if self.layer is None:
            raise ValueError("load an image before setting its unpainted pixels")
        self.layer.set_unpainted(unpainted)
        if self.canvas.overlay is not None:
            self.canvas.overlay.set_unpainted(self.layer.unpainted)
        self.canvas.update()

    def set_confidence(self, conf: np.ndarray | None) -> None:
        if conf is not None and self.layer is None:
            raise ValueError("load an image before setting its confidence")
        self.canvas.set_confidence(None if conf is None else np.asarray(conf, dtype=np.float32))
        self.scribble_tool.set_confidence(conf)
        self.conf_check.setEnabled(self.canvas.has_confidence())

    def superpixels_ready(self) -> bool:
        return self.canvas.superpixels is not None

    def _poll_superpixels(self) -> None:
        fut = self._sp_future
        if fut is None or not fut.done():
            return
        self._sp_timer.stop()
        self._sp_future = None
        if fut.exception() is None and self.layer is not None and fut.result().labels.shape == self.layer.shape:
            self.canvas.superpixels = fut.result()

    # ------------------------------------------------------------ tools
    def tool(self) -> str:
        return self.canvas.tool

    def set_tool(self, name: str) -> None:
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}; expected one of {TOOLS}")
        if self.canvas.polygon_points and name != "polygon":
            self.canvas.cancel_polygon()
        self.canvas.tool = name
        if name == "scribble":
            self.scribble_tool.activate()
        self.actions[f"tool_{name}"].setChecked(True)
        self.canvas.update()
        self.statusMessage.emit(f"Tool: {TOOL_LABELS[name]}")

    def current_class(self) -> int:
        return self.canvas.current_class

    def set_class(self, index: int) -> None:
        if self.layer is None or not 0 <= index < self.layer.n_classes:
            return
        self.canvas.current_class = index
        if self.palette_panel.current() != index:
            self.palette_panel.set_current(index)
        self.statusMessage.emit(f"Class: {self.layer.names[index]}")

    def brush_radius(self) -> int:
        return self.canvas.radius

    def set_brush_radius(self, r: int) -> None:
        self.radius_spin.setValue(int(r))

    def _radius_step(self, direction: int) -> int:
        r = self.canvas.radius
        return max(0, r + direction * max(1, round(r * 0.2)))

    def set_preserve(self, mode: str, target: int | None = None) -> None:
        if target is not None:
            self.preserve_class_combo.setCurrentIndex(target)
        self.preserve_combo.setCurrentIndex([m for m, _ in PRESERVE_CHOICES].index(mode))

    def undo(self) -> None:
        self.canvas.undo()

    def redo(self) -> None:
        self.canvas.redo()

    def replace_class(self, a: int, b: int) -> None:
        self.canvas.replace_class(a, b)

    def open_replace_dialog(self) -> ReplaceClassDialog | None:
        if self.layer is None:
            return None
        dlg = ReplaceClassDialog(self.layer.names, self.current_class(), self)
        dlg.accepted.connect(lambda: self.replace_class(*dlg.choice()))
        dlg.open()
        self._dialog = dlg
        return dlg

    def set_display(self, window: dict | None) -> None:
        """The project's display window (``project.get_setting("display")``); a bad one is ignored."""
        try:
            self.canvas.set_display_window(window)
        except (TypeError, ValueError):
            self.canvas.set_display_window(None)

    def open_display_dialog(self) -> DisplayDialog | None:
        """Display window (min/max, gamma, auto-levels); OK emits displayChanged (the project keeps it)."""
        if self.canvas.raw is None:
            return None
        dlg = DisplayDialog(self.canvas.raw, self.canvas.display_window, self.canvas.set_display_window, self)
        dlg.accepted.connect(lambda: self.displayChanged.emit(dlg.window().to_dict()))
        dlg.open()
        self._dialog = dlg
        return dlg

    def show_shortcuts(self) -> ShortcutsDialog:
        dlg = ShortcutsDialog(self)
        dlg.open()
        self._dialog = dlg
        return dlg

    # ------------------------------------------------------------ slots
    def _on_edited(self, change) -> None:
        self._set_dirty(self.is_dirty())
        if change is not None:
            self.edited.emit()

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirtyChanged.emit(dirty)

    def _class_selected(self, index: int) -> None:
        self.set_class(index)

    def _visibility_changed(self, index: int, visible: bool) -> None:
        if self.layer is not None:
            self.layer.set_visible(index, visible)
            self.canvas.refresh_palette()

    def _color_changed(self, index: int, rgb) -> None:
        if self.layer is not None:
            self.layer.set_color(index, rgb)
            self.canvas.refresh_palette()
            self.paletteChanged.emit(self.layer.palette.copy())

    def _preserve_changed(self, *_):
        mode = self.preserve_combo.currentData()
        self.preserve_class_combo.setEnabled(mode == PRESERVE_CLASS)
        if self.layer is None:
            return
        if mode == PRESERVE_VOID and self.layer.void_index is None:
            self.statusMessage.emit("There is no Void class to preserve")
            self.preserve_combo.setCurrentIndex(0)
            return
        self.layer.set_preserve(mode, max(self.preserve_class_combo.currentIndex(), 0))
        self.statusMessage.emit(f"Preserve: {self.preserve_combo.currentText()}"
                                + (f" {self.preserve_class_combo.currentText()}" if mode == PRESERVE_CLASS else ""))

    def _opacity_changed(self, v: int) -> None:
        self.canvas.opacity = v / 100.0
        self.canvas.update()

    def _mask_toggled(self, on: bool) -> None:
        self.canvas.show_mask = on
        self.canvas.update()

    def _conf_toggled(self, on: bool) -> None:
        self.canvas.show_confidence = on
        self.canvas.update()

    def _grid_toggled(self, on: bool) -> None:
        self.canvas.show_grid = on
        self.canvas.update()

    def _update_enabled(self) -> None:
        has = self.layer is not None
        for w in (self.radius_spin, self.tolerance_spin, self.preserve_combo, self.palette_panel):
            w.setEnabled(has)
        self.preserve_class_combo.setEnabled(has and self.preserve_combo.currentData() == PRESERVE_CLASS)
        self.conf_check.setEnabled(self.canvas.has_confidence())

"""Display dialog: how the image data is shown (min/max, gamma, auto-levels, which bands as RGB).

Changes preview live on the canvas; Cancel restores the window the dialog opened with. Only the
picture on screen changes, never the data (``model.images.display.display_rgb``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from model.images.display import DisplayWindow, window_limits

GAMMA_RANGE = (0.1, 5.0)


class DisplayDialog(QDialog):
    """Edit a ``DisplayWindow`` for ``raw`` ((H, W, C) data); ``apply(window)`` is called on every change."""

    def __init__(self, raw: np.ndarray, window: DisplayWindow | None, apply: Callable[[DisplayWindow | None], None],
                 parent=None):
        super().__init__(parent)
        self.setWindowTitle("Display")
        self.raw, self._apply, self._initial = raw, apply, window
        self._updating = False
        data_kind = "float" if raw.dtype.kind == "f" else raw.dtype.name
        finite = raw[::max(1, raw.shape[0] // 512), ::max(1, raw.shape[1] // 512)]
        lo, hi = float(np.nanmin(finite)), float(np.nanmax(finite))
        span = max(hi - lo, 1.0)
        top = float(np.iinfo(raw.dtype).max) if raw.dtype.kind in "ui" else hi + span
        bottom = float(np.iinfo(raw.dtype).min) if raw.dtype.kind in "ui" else lo - span
        decimals = 4 if raw.dtype.kind == "f" else 0

        def spin():
            box = QDoubleSpinBox(self, decimals=decimals, minimum=bottom, maximum=top)
            box.setSingleStep(span / 100 if raw.dtype.kind == "f" else max(1.0, round(span / 100)))
            box.setKeyboardTracking(False)
            box.valueChanged.connect(self._changed)
            return box

        self.low_spin, self.high_spin = spin(), spin()
        self.gamma_spin = QDoubleSpinBox(self, decimals=2, minimum=GAMMA_RANGE[0], maximum=GAMMA_RANGE[1],
                                         singleStep=0.05, value=1.0)
        self.gamma_spin.setKeyboardTracking(False)
        self.gamma_spin.valueChanged.connect(self._changed)
        self.auto_check = QCheckBox("Auto-levels on every image (0.5–99.5 percentile)", self)
        self.auto_check.toggled.connect(self._changed)
        self.levels_button = QPushButton("Auto-levels now", self)
        self.levels_button.clicked.connect(self.auto_levels)
        self.reset_button = QPushButton("Reset", self)
        self.reset_button.clicked.connect(lambda: self.set_window(None))
        channels = raw.shape[2]
        self.band_combos: list[QComboBox] = []
        bands = QHBoxLayout()
        for colour in ("R", "G", "B") if channels > 1 else ():
            combo = QComboBox(self)
            combo.addItems([f"band {i + 1}" for i in range(channels)])
            combo.currentIndexChanged.connect(self._changed)
            bands.addWidget(QLabel(colour))
            bands.addWidget(combo)
            self.band_combos.append(combo)
        form = QFormLayout(self)
        form.addRow(QLabel(f"{raw.shape[1]}×{raw.shape[0]}, {channels} band(s), {data_kind}, "
                           f"values {lo:g}…{hi:g}", self))
        form.addRow("Black at (min)", self.low_spin)
        form.addRow("White at (max)", self.high_spin)
        form.addRow("Gamma", self.gamma_spin)
        form.addRow(self.auto_check)
        if self.band_combos:
            holder = QWidget(self)
            holder.setLayout(bands)
            form.addRow("Shown as RGB", holder)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(self.levels_button)
        buttons_row.addWidget(self.reset_button)
        form.addRow(buttons_row)
        box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        form.addRow(box)
        self.set_window(window, apply=False)

    # ---- state <-> widgets ---------------------------------------------------------------------
    def set_window(self, window: DisplayWindow | None, apply: bool = True) -> None:
        shown = window or DisplayWindow(auto=self.raw.dtype != np.uint8)
        low, high = window_limits(self.raw, shown)
        self._updating = True
        try:
            self.low_spin.setValue(low if shown.low is None else shown.low)
            self.high_spin.setValue(high if shown.high is None else shown.high)
            self.gamma_spin.setValue(shown.gamma)
            self.auto_check.setChecked(shown.auto and shown.low is None and shown.high is None)
            default = self._default_bands()
            for combo, band in zip(self.band_combos, shown.channels or default, strict=False):
                combo.setCurrentIndex(int(band))
        finally:
            self._updating = False
        self._sync_enabled()
        if apply:
            self._apply(window)

    def _default_bands(self) -> tuple[int, ...]:
        c = self.raw.shape[2]
        return (0, 1, 1) if c == 2 else (0, 1, 2)

    def window(self) -> DisplayWindow:
        """The window the widgets describe."""
        bands = tuple(c.currentIndex() for c in self.band_combos)
        channels = None if not bands or bands == self._default_bands()[:len(bands)] else bands
        auto = self.auto_check.isChecked()
        return DisplayWindow(low=None if auto else self.low_spin.value(),
                             high=None if auto else self.high_spin.value(),
                             gamma=self.gamma_spin.value(), auto=auto, channels=channels)

    def auto_levels(self) -> None:
        """Min/max from this image's percentiles, kept fixed for the next images (a fixed window: with
        per-image auto-levels on, the button is disabled, since every image is levelled by itself)."""
        low, high = window_limits(self.raw, DisplayWindow(auto=True, channels=self.window().channels))
        self._updating = True
        self.auto_check.setChecked(False)
        self.low_spin.setValue(low)
        self.high_spin.setValue(high)
        self._updating = False
        self._changed()

    def _sync_enabled(self) -> None:
        manual = not self.auto_check.isChecked()
        self.low_spin.setEnabled(manual)
        self.high_spin.setEnabled(manual)
        # "now" fixes min/max from this image; it cannot take the per-image box's place behind the user's
        # back (it used to untick it), so it is offered only while min/max are set by hand
        self.levels_button.setEnabled(manual)
        self.levels_button.setToolTip(
            "Set min/max from this image's 0.5 and 99.5 percentiles, kept for the next images" if manual else
            "Off while auto-levels on every image is ticked: each image is already levelled by its own "
            "percentiles. Untick it to keep min/max fixed (they start at this image's levels)")

    def _changed(self, *_args) -> None:
        if self._updating:
            return
        self._sync_enabled()
        if self.low_spin.value() >= self.high_spin.value() and not self.auto_check.isChecked():
            return  # an empty window: wait for the other bound
        self._apply(self.window())

    def reject(self) -> None:
        self._apply(self._initial)
        super().reject()

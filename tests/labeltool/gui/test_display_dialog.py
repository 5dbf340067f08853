"""The Display dialog's auto-levels: "Auto-levels now" never unticks the per-image box behind the user's back."""

import numpy as np

from labeltool.gui.display_dialog import DisplayDialog
from model.images.display import DisplayWindow, window_limits


def _fixed_at(window, low, high) -> bool:
    """A fixed window (no per-image levels) at these limits (the spin boxes show whole 16-bit values)."""
    return not window.auto and abs(window.low - low) <= 0.5 and abs(window.high - high) <= 0.5


def _dialog(qtbot, window):
    rng = np.random.default_rng(1)
    raw = (700 + rng.integers(0, 300, (40, 50, 1))).astype(np.uint16)  # dim 16-bit: auto-levels by default
    applied = []
    dialog = DisplayDialog(raw, window, applied.append)
    qtbot.addWidget(dialog)
    return dialog, raw, applied


def test_auto_levels_now_is_offered_only_while_min_max_are_set_by_hand(qtbot):
    dialog, raw, applied = _dialog(qtbot, None)
    assert dialog.auto_check.isChecked()  # 16-bit data opens auto-levelled on every image
    assert not dialog.levels_button.isEnabled()  # pressing it could only untick the box
    assert "untick" in dialog.levels_button.toolTip().lower()
    dialog.levels_button.click()
    assert dialog.auto_check.isChecked() and applied == []
    # unticked, min/max start at this image's levels, and the button fixes them from this image
    dialog.auto_check.setChecked(False)
    low, high = window_limits(raw, DisplayWindow(auto=True))
    assert _fixed_at(applied[-1], low, high)
    assert dialog.levels_button.isEnabled()
    dialog.low_spin.setValue(0)
    dialog.levels_button.click()
    assert not dialog.auto_check.isChecked()
    assert _fixed_at(applied[-1], low, high)
    dialog.auto_check.setChecked(True)  # ticked again: per-image levels, the button off again
    assert applied[-1].auto and not dialog.levels_button.isEnabled()

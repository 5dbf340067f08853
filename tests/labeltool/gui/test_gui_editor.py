"""pytest-qt tests of EditorWidget with real mouse and key events on the canvas."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from labeltool.gui.editor import EditorWidget  # noqa: E402
from labeltool.gui.shortcuts import ShortcutsDialog, shortcut_table, window_shortcuts  # noqa: E402

NAMES = ["Road", "Car", "Sky", "Void"]
PALETTE = np.array([[128, 64, 128], [0, 0, 142], [70, 130, 180], [0, 0, 0]], dtype=np.uint8)
VOID = 3
H, W = 120, 160


def make_image():
    img = np.zeros((H, W, 3), np.uint8)
    img[:, :80] = (40, 40, 40)
    img[:, 80:] = (220, 200, 30)
    img[30:60, 100:130] = (230, 205, 35)  # similar to the yellow
    return img


@pytest.fixture
def ed(qtbot):
    w = EditorWidget()
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.show()
    qtbot.waitExposed(w)
    mask = np.full((H, W), VOID, np.uint8)
    mask[:40, :] = 2  # Sky on top
    w.load(make_image(), mask, NAMES, PALETTE, VOID)
    w.activateWindow()
    w.canvas.setFocus()
    QApplication.processEvents()
    return w


def pt(ed, y, x) -> QPoint:
    """Widget position of the centre of image pixel (y, x)."""
    p = ed.canvas.widget_point(y + 0.5, x + 0.5)
    return QPoint(round(p.x()), round(p.y()))


def key(qtbot, ed, k, mod=Qt.NoModifier):
    qtbot.keyClick(ed.canvas, k, mod)


def drag(qtbot, ed, points, mod=Qt.NoModifier, button=Qt.LeftButton):
    c = ed.canvas
    qtbot.mousePress(c, button, mod, pt(ed, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(c, pt(ed, *p))
    qtbot.mouseRelease(c, button, mod, pt(ed, *points[-1]))


def test_blank_editor_works_without_image(qtbot):
    w = EditorWidget()
    qtbot.addWidget(w)
    w.show()
    qtbot.mouseClick(w.canvas, Qt.LeftButton, pos=QPoint(50, 50))
    qtbot.keyClick(w.canvas, Qt.Key_Z, Qt.ControlModifier)
    assert w.mask().shape == (0, 0) and not w.is_dirty()


def test_brush_stroke_is_one_undo_step_and_signals(qtbot, ed):
    before = ed.mask()
    key(qtbot, ed, Qt.Key_B)
    key(qtbot, ed, Qt.Key_2)  # Car
    assert ed.tool() == "brush" and ed.current_class() == 1
    with qtbot.waitSignal(ed.edited), qtbot.waitSignal(ed.dirtyChanged) as dirty:
        drag(qtbot, ed, [(80, 20), (80, 40), (90, 60)])
    assert dirty.args == [True] and ed.is_dirty()
    after = ed.mask()
    assert after[80, 30] == 1 and after[90, 60] == 1 and after[80, 35] == 1
    assert (after[80, 20:41] == 1).all()  # continuous between mouse events
    assert ed.canvas.last_update_rect.width() < ed.canvas.width() / 2  # partial repaint
    key(qtbot, ed, Qt.Key_Z, Qt.ControlModifier)
    assert np.array_equal(ed.mask(), before) and not ed.is_dirty()
    key(qtbot, ed, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert np.array_equal(ed.mask(), after)
    key(qtbot, ed, Qt.Key_Z, Qt.ControlModifier)
    key(qtbot, ed, Qt.Key_Y, Qt.ControlModifier)
    assert np.array_equal(ed.mask(), after)
    ed.mark_saved()
    assert not ed.is_dirty()


def test_brush_size_keys_and_outline_matches_brush(qtbot, ed):
    ed.set_brush_radius(5)
    key(qtbot, ed, Qt.Key_BracketRight)
    assert ed.brush_radius() == 6
    key(qtbot, ed, Qt.Key_BracketLeft)
    key(qtbot, ed, Qt.Key_BracketLeft)
    assert ed.brush_radius() == 4
    assert ed.canvas.brush_outline_radius() == pytest.approx(4.5 * ed.canvas.scale)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 80, 40))
    m = ed.mask() == 0
    assert m[80, 36] and m[80, 44] and not m[80, 35] and not m[80, 45]


def test_shift_drag_draws_straight_line(qtbot, ed):
    ed.set_brush_radius(1)
    key(qtbot, ed, Qt.Key_3)  # Sky
    drag(qtbot, ed, [(100, 10), (60, 70), (100, 150)], mod=Qt.ShiftModifier)
    m = ed.mask()
    assert (m[99:102, 10:151] == 2).all(axis=0).all()  # straight from start to end
    assert m[60, 70] == VOID  # the intermediate mouse point was not painted


def test_eraser_paints_void(qtbot, ed):
    key(qtbot, ed, Qt.Key_E)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 10, 50))
    assert ed.tool() == "eraser" and ed.mask()[10, 50] == VOID


def test_fill_tool(qtbot, ed):
    key(qtbot, ed, Qt.Key_F)
    key(qtbot, ed, Qt.Key_1)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 100, 100))
    m = ed.mask()
    assert (m[40:] == 0).all() and (m[:40] == 2).all()


def test_wand_tool_and_tolerance(qtbot, ed):
    key(qtbot, ed, Qt.Key_W)
    key(qtbot, ed, Qt.Key_2)
    ed.tolerance_spin.setValue(2)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 100, 150))
    m = ed.mask() == 1
    assert m[100, 90] and not m[45, 110] and not m[100, 40]
    key(qtbot, ed, Qt.Key_Z, Qt.ControlModifier)
    key(qtbot, ed, Qt.Key_BraceRight, Qt.ShiftModifier)
    key(qtbot, ed, Qt.Key_BraceRight, Qt.ShiftModifier)
    assert ed.tolerance_spin.value() == 10
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 100, 150))
    m = ed.mask() == 1
    assert m[45, 110] and m[0, 100] and not m[100, 40]


def test_superpixel_tool_assigns_a_segment(qtbot, ed):
    key(qtbot, ed, Qt.Key_S)
    assert ed.tool() == "superpixel"
    qtbot.waitUntil(ed.superpixels_ready, timeout=10000)
    key(qtbot, ed, Qt.Key_2)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 100, 40))
    labels = ed.canvas.superpixels.labels
    assert np.array_equal(ed.mask() == 1, labels == labels[100, 40])


def test_polygon_tool_double_click_and_escape(qtbot, ed):
    key(qtbot, ed, Qt.Key_P)
    key(qtbot, ed, Qt.Key_2)
    for p in [(50, 20), (50, 60), (90, 60)]:
        qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, *p))
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 90, 20))
    qtbot.mouseDClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 90, 20))
    m = ed.mask() == 1
    assert m[50:91, 20:61].all() and m.sum() == 41 * 41
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 100, 100))
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 100, 140))
    key(qtbot, ed, Qt.Key_Escape)
    assert ed.canvas.polygon_points == []


def test_eyedropper_and_alt_click(qtbot, ed):
    key(qtbot, ed, Qt.Key_I)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, pos=pt(ed, 10, 10))
    assert ed.current_class() == 2 and ed.palette_panel.current() == 2
    key(qtbot, ed, Qt.Key_B)
    key(qtbot, ed, Qt.Key_1)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, Qt.AltModifier, pt(ed, 100, 100))
    assert ed.current_class() == VOID and ed.mask()[100, 100] == VOID  # picked, not painted


def test_replace_class_dialog(qtbot, ed):
    key(qtbot, ed, Qt.Key_R)
    dlg = ed._dialog
    assert dlg is not None and dlg.isVisible()
    dlg.source.setCurrentIndex(2)
    dlg.target.setCurrentIndex(0)
    dlg.accept()
    m = ed.mask()
    assert not (m == 2).any() and (m[:40] == 0).all()


def test_preserve_mode_protects_other_classes(qtbot, ed):
    key(qtbot, ed, Qt.Key_L)  # → only over Void
    assert ed.layer.preserve_mode == "void"
    ed.set_brush_radius(3)
    key(qtbot, ed, Qt.Key_2)
    drag(qtbot, ed, [(38, 50), (44, 50)])
    m = ed.mask()
    assert (m[35:40, 50] == 2).all() and (m[40:48, 50] == 1).all()
    key(qtbot, ed, Qt.Key_L)  # → only over the chosen class
    ed.preserve_class_combo.setCurrentIndex(2)
    key(qtbot, ed, Qt.Key_1)
    drag(qtbot, ed, [(38, 100), (44, 100)])
    m = ed.mask()
    assert (m[35:40, 100] == 0).all() and (m[41:48, 100] == VOID).all()


def test_digit_keys_select_first_ten_classes(qtbot):
    w = EditorWidget()
    qtbot.addWidget(w)
    w.show()
    names = [f"c{i}" for i in range(12)]
    pal = np.arange(36, dtype=np.uint8).reshape(12, 3)
    w.load(np.zeros((20, 20, 3), np.uint8), None, names, pal, None)
    w.activateWindow()
    w.canvas.setFocus()
    QApplication.processEvents()
    qtbot.keyClick(w.canvas, Qt.Key_0)
    assert w.current_class() == 9
    qtbot.keyClick(w.canvas, Qt.Key_4)
    assert w.current_class() == 3


def test_view_zoom_pan_toggles(qtbot, ed):
    c = ed.canvas
    fit = c.scale
    key(qtbot, ed, Qt.Key_1, Qt.ControlModifier)
    assert c.scale == pytest.approx(1.0)
    key(qtbot, ed, Qt.Key_0, Qt.ControlModifier)
    assert c.scale == pytest.approx(fit)
    pos = QPointF(pt(ed, 60, 80))
    ev = QWheelEvent(pos, c.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 240), Qt.NoButton,
                     Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(c, ev)
    assert c.scale == pytest.approx(fit * 1.5625)
    assert c.pixel_at(pos) == (60, 80)  # zoom keeps the pixel under the cursor
    off = QPointF(c.offset)
    qtbot.mousePress(c, Qt.MiddleButton, pos=QPoint(100, 100))
    qtbot.mouseMove(c, QPoint(140, 120))
    qtbot.mouseRelease(c, Qt.MiddleButton, pos=QPoint(140, 120))
    assert c.offset - off == QPointF(40, 20) and (ed.mask() == ed.layer.mask).all()
    before = ed.mask()
    qtbot.keyPress(c, Qt.Key_Space)
    drag(qtbot, ed, [(60, 80), (70, 90)])
    qtbot.keyRelease(c, Qt.Key_Space)
    assert np.array_equal(ed.mask(), before)  # space+drag pans, does not paint
    key(qtbot, ed, Qt.Key_M)
    assert not c.show_mask
    key(qtbot, ed, Qt.Key_Period)
    assert c.opacity == pytest.approx(0.6)
    key(qtbot, ed, Qt.Key_G)
    assert not c.show_grid


def test_status_message_on_hover(qtbot, ed):
    with qtbot.waitSignal(ed.statusMessage, check_params_cb=lambda s: "class=Sky" in s) as sig:
        qtbot.mouseMove(ed.canvas, pt(ed, 10, 12))
    assert "x=12, y=10" in sig.args[0]


def test_palette_hide_colour_and_search(qtbot, ed):
    ov = ed.canvas.overlay
    assert ov.rgba()[10, 10, 3] == 255
    ed.palette_panel.set_visible(2, False)
    assert ov.rgba()[10, 10, 3] == 0
    with qtbot.waitSignal(ed.paletteChanged) as sig:
        ed.palette_panel.set_color(0, (255, 0, 0))
    assert tuple(sig.args[0][0]) == (255, 0, 0)
    key(qtbot, ed, Qt.Key_F, Qt.ControlModifier)
    qtbot.keyClicks(ed.palette_panel.search, "ca")
    assert ed.palette_panel.visible_rows() == [1] and ed.current_class() == 1


def test_confidence_layer_toggle(qtbot, ed):
    conf = np.ones((H, W), np.float32)
    conf[:, :20] = 0.1
    ed.set_confidence(conf)
    key(qtbot, ed, Qt.Key_C)
    assert ed.canvas.show_confidence
    with pytest.raises(ValueError):
        ed.set_confidence(np.ones((3, 3), np.float32))


def test_shortcut_sheet_lists_every_action(qtbot, ed):
    ids = {s.id for s in shortcut_table() if s.id}
    assert ids == set(ed.actions)
    keys = [k for s in shortcut_table() for k in s.keys]
    assert not {"Return", "Enter", "PgDown", "PgUp", "D", "A", "Ctrl+S"} & set(keys)
    assert len(keys) == len(set(keys))
    key(qtbot, ed, Qt.Key_Question, Qt.ShiftModifier)
    assert isinstance(ed._dialog, ShortcutsDialog)
    assert ed._dialog.table.rowCount() == len(shortcut_table()) + len(window_shortcuts())
    every = keys + [k for s in window_shortcuts() for k in s.keys]
    assert len(every) == len(set(every))  # no key does two things


def test_next_image_keeps_the_chosen_class_and_preserve_mode(qtbot, ed):
    """Found under Xvfb: every image change went back to the first class, so the next stroke painted Road."""
    key(qtbot, ed, Qt.Key_3)  # Sky
    ed.set_preserve("void")
    ed.load(make_image(), None, NAMES, PALETTE, VOID)
    assert ed.current_class() == 2
    assert ed.preserve_combo.currentData() == "void"
    ed.load(make_image(), None, ["a", "b", "Void"], PALETTE[[0, 1, 3]], 2)  # other classes: defaults again
    assert ed.current_class() == 0

"""Objects of a class (count, pick, recolour, delete) and cleanup (islands, holes): results a user sees,
each one undo step that restores the mask byte for byte; 255 classes stay usable."""

from __future__ import annotations

import numpy as np
import pytest

from labeltool.editing import LabelLayer
from labeltool.editing.cleanup import fill_holes, fill_holes_step, remove_islands, remove_islands_step
from labeltool.editing.instances import (
    class_instances,
    count_objects,
    delete_object,
    instance_masks,
    object_at,
    outline,
    recolour_object,
)
from model.project.palette import default_palette

NAMES = ["Road", "Car", "Tree", "Void"]
PALETTE = default_palette(NAMES)


def scene() -> np.ndarray:
    """Road (0) with three cars (1): 6x6, 3x3 and a 1-pixel speck; a tree (2) with a 2x2 hole of Road;
    Void (3) in the top-left corner. Diagonal pixels do not connect."""
    m = np.zeros((40, 50), np.uint8)
    m[5:11, 5:11] = 1
    m[20:23, 30:33] = 1
    m[35, 45] = 1
    m[25:35, 5:15] = 2
    m[29:31, 9:11] = 0
    m[0:2, 0:2] = 3
    return m


def layer_of(mask: np.ndarray) -> LabelLayer:
    return LabelLayer(mask, NAMES, PALETTE, 3)


def test_objects_are_counted_per_class_and_listed_largest_first():
    m = scene()
    counts = count_objects(m, len(NAMES))
    assert counts.tolist() == [2, 3, 1, 1]  # road: outside + the hole in the tree
    cars = class_instances(m, 1)
    assert [c.area for c in cars] == [36, 9, 1]
    assert cars[0].bbox == (5, 5, 11, 11) and m[cars[0].seed] == 1
    m2 = m.copy()
    m2[11, 11] = 1  # touches the big car only diagonally: a separate object
    assert count_objects(m2)[1] == 4
    masks = list(instance_masks(m, 1))
    assert sum(full.sum() for _, full in masks) == (m == 1).sum()
    assert all(m[full].tolist() == [1] * int(full.sum()) for _, full in masks)


def test_pick_and_outline_the_object_under_a_point():
    m = scene()
    bbox, region = object_at(m, 21, 31)
    assert bbox == (20, 30, 23, 33) and region.all()
    ring = outline(region)
    assert ring.sum() == 8 and not ring[1, 1]
    assert object_at(m, -1, 3) is None


@pytest.mark.parametrize("edit", ["recolour", "delete"])
def test_recolour_and_delete_are_one_undo_step_that_restores_every_byte(edit):
    m = scene()
    layer = layer_of(m)
    if edit == "recolour":
        change = recolour_object(layer, 7, 7, 2)
        assert (layer.mask[5:11, 5:11] == 2).all()
    else:
        change = delete_object(layer, 7, 7)
        assert (layer.mask[5:11, 5:11] == 3).all()  # to Void
    assert change is not None and change.bbox == (5, 5, 11, 11)
    assert (layer.mask[20:23, 30:33] == 1).all()  # the other cars stay
    assert count_objects(layer.mask)[1] == 2
    assert len(layer.history) == 1 and layer.is_dirty()
    layer.undo()
    assert layer.mask.tobytes() == m.tobytes() and not layer.is_dirty()
    layer.redo()
    assert count_objects(layer.mask)[1] == 2


def test_remove_islands_gives_specks_the_class_around_them():
    m = scene()
    out = remove_islands(m, 10)
    assert out[35, 45] == 0 and (out[20:23, 30:33] == 0).all()  # 1 px and 9 px cars become road
    assert (out[5:11, 5:11] == 1).all()  # 36 px stays
    assert (out[29:31, 9:11] == 2).all()  # the 4 px road hole in the tree becomes tree
    assert (out[0:2, 0:2] == 0).all()  # the 4 px Void corner too (all classes)
    only_cars = remove_islands(m, 10, classes=[1])
    assert (only_cars[29:31, 9:11] == 0).all() and only_cars[35, 45] == 0
    assert (remove_islands(m, 1) == m).all()


def test_fill_holes_fills_enclosed_regions_only():
    m = scene()
    out = fill_holes(m, classes=[2])
    assert (out[29:31, 9:11] == 2).all()
    expected = m.copy()
    expected[29:31, 9:11] = 2
    assert (out == expected).all()  # nothing else changes
    assert (fill_holes(m, max_size=3, classes=[2]) == m).all()  # the hole has 4 pixels
    everything = fill_holes(m)
    assert (everything[5:11, 5:11] == 0).all()  # a car is a hole in the road
    assert (everything[0:2, 0:2] == 3).all()  # touches the border: not a hole


@pytest.mark.parametrize("step", ["islands", "holes"])
def test_cleanup_is_one_undo_step_that_restores_every_byte(step):
    rng = np.random.default_rng(3)
    m = scene()
    m[rng.integers(0, 40, 60), rng.integers(0, 50, 60)] = rng.integers(0, 4, 60).astype(np.uint8)
    layer = layer_of(m)
    change = remove_islands_step(layer, 5) if step == "islands" else fill_holes_step(layer, 20)
    assert change is not None and layer.mask.tobytes() != m.tobytes()
    after = layer.mask.copy()
    assert len(layer.history) == 1
    layer.undo()
    assert layer.mask.tobytes() == m.tobytes()
    layer.redo()
    assert layer.mask.tobytes() == after.tobytes()
    assert (remove_islands_step(layer, 1) if step == "islands" else fill_holes_step(layer, 1)) is None


def test_255_classes_load_with_distinct_colours():
    names = [f"class{i:03d}" for i in range(254)] + ["Road", "Void"]
    palette = default_palette(names)
    assert len({tuple(c) for c in palette}) == 256
    # distinguishable, not just different: no two colours closer than 10 in each of R, G, B together
    diffs = np.abs(palette[:, None, :].astype(int) - palette[None, :, :].astype(int)).sum(-1)
    np.fill_diagonal(diffs, 999)
    assert diffs.min() >= 10
    assert tuple(palette[254]) == (128, 64, 128)  # CamVid colours stay for known names
    mask = (np.arange(256, dtype=np.uint8).reshape(16, 16))
    layer = LabelLayer(mask, names, palette, 255)
    assert layer.n_classes == 256 and count_objects(layer.mask).sum() == 256
    recolour_object(layer, 15, 15, 200)
    assert layer.mask[15, 15] == 200


# ------------------------------------------------------------------ the editor's objects panel and Clean up…
def test_objects_panel_picks_recolours_and_cleans_up_with_real_events(qtbot):
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QApplication

    from labeltool.gui.editor import EditorWidget

    ed = EditorWidget()
    qtbot.addWidget(ed)
    ed.resize(900, 600)
    ed.show()
    qtbot.waitExposed(ed)
    m = scene()
    image = np.zeros((*m.shape, 3), np.uint8)
    ed.load(image, m, NAMES, PALETTE, 3)
    ed.activateWindow()
    ed.canvas.setFocus()
    QApplication.processEvents()
    panel = ed.objects_panel
    assert panel.isHidden()
    qtbot.keyClick(ed.canvas, Qt.Key_O)
    assert panel.isVisible()
    assert panel.counts() == {0: 2, 1: 3, 2: 1, 3: 1}
    tops = [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())]
    assert tops[1] == "Car: 3"
    qtbot.mouseClick(panel.pick_button, Qt.LeftButton)
    p = ed.canvas.widget_point(21.5, 31.5)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, Qt.NoModifier, QPoint(round(p.x()), round(p.y())))
    assert panel.selected() == (21, 31)
    assert panel.highlight._image is not None and panel.highlight._image.width() == 3
    assert (ed.layer.mask == m).all()  # picking does not paint
    panel.target_combo.setCurrentIndex(2)
    qtbot.mouseClick(panel.recolour_button, Qt.LeftButton)
    assert (ed.layer.mask[20:23, 30:33] == 2).all() and ed.is_dirty()
    assert panel.counts()[1] == 2
    assert panel.tree.topLevelItem(1).text(0) == "Car: 2"
    assert panel.tree.currentItem().parent().text(0).startswith("Tree")  # the object stays selected, now Tree
    cars = panel.tree.topLevelItem(1)
    cars.setExpanded(True)  # lists the cars, largest first
    assert [cars.child(i).text(1) for i in range(cars.childCount())] == ["36", "1"]
    panel.tree.setCurrentItem(cars.child(0))
    assert panel.selected() == (5, 5)
    qtbot.mouseClick(panel.delete_button, Qt.LeftButton)
    assert (ed.layer.mask[5:11, 5:11] == 3).all() and panel.selected() is None
    assert len(ed.layer.history) == 2
    ed.undo()
    ed.canvas.setFocus()
    qtbot.keyClick(ed.canvas, Qt.Key_Z, Qt.ControlModifier)
    assert ed.layer.mask.tobytes() == m.tobytes()
    qtbot.keyClick(ed.canvas, Qt.Key_L, Qt.ControlModifier)
    dialog = ed.objects_panel._dialog
    dialog.size.setValue(10)
    dialog.classes.setCurrentIndex(2)  # Car
    dialog.accept()
    QApplication.processEvents()
    assert ed.layer.mask[35, 45] == 0 and (ed.layer.mask[20:23, 30:33] == 0).all()
    assert (ed.layer.mask[0:2, 0:2] == 3).all()  # other classes untouched
    ed.undo()
    assert ed.layer.mask.tobytes() == m.tobytes()


def test_editor_with_256_classes_searches_and_keeps_digit_keys(qtbot):
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from labeltool.gui.editor import EditorWidget

    names = [f"class{i:03d}" for i in range(255)] + ["Void"]
    ed = EditorWidget()
    qtbot.addWidget(ed)
    ed.resize(900, 600)
    ed.show()
    qtbot.waitExposed(ed)
    mask = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ed.load(np.zeros((16, 16, 3), np.uint8), mask, names, default_palette(names), 255)
    ed.activateWindow()
    ed.canvas.setFocus()
    QApplication.processEvents()
    assert ed.palette_panel.count() == 256
    qtbot.keyClick(ed.canvas, Qt.Key_0)  # the tenth class
    assert ed.current_class() == 9
    qtbot.keyClick(ed.canvas, Qt.Key_F, Qt.ControlModifier)
    qtbot.keyClicks(ed.palette_panel.search, "class2")
    assert ed.palette_panel.visible_rows() == list(range(200, 255))
    ed.palette_panel.search.setText("class137")
    assert ed.palette_panel.visible_rows() == [137] and ed.current_class() == 137

"""Scribble-to-mask: a few strokes of three classes label a generated scene, painted pixels are kept,
and applying the classifier is one undo step."""

import numpy as np
import pytest

from labeltool.editing import LabelLayer
from labeltool.editing.scribble import (
    NO_LABEL,
    ScribbleSession,
    classify,
    compute_regions,
    image_features,
    merged_mask,
)

NAMES = ["Sky", "Tree", "Road", "Void"]
PALETTE = np.array([[128, 128, 128], [128, 128, 0], [128, 64, 128], [0, 0, 0]], np.uint8)


def scene(h=120, w=160, seed=0):
    """Sky (bright smooth blue) on top, a tree (dark green, noisy texture) in a blob, road (grey) below."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((h, w), np.uint8)
    truth[h // 2:] = 2
    yy, xx = np.ogrid[:h, :w]
    tree = (yy - h * 0.45) ** 2 / (h * 0.22) ** 2 + (xx - w * 0.65) ** 2 / (w * 0.18) ** 2 < 1
    truth[tree] = 1
    colours = np.array([[150, 190, 240], [40, 110, 30], [110, 105, 100]], np.float32)
    img = colours[truth]
    img += rng.normal(0, 4, img.shape)
    img[tree] += rng.normal(0, 30, (int(tree.sum()), 3))  # foliage texture
    return np.clip(img, 0, 255).astype(np.uint8), truth


def strokes(session):
    h, w = session.shape
    session.add_stroke((h * 0.1, w * 0.1), (h * 0.1, w * 0.4), 3, 0)      # sky
    session.add_stroke((h * 0.4, w * 0.6), (h * 0.5, w * 0.7), 3, 1)      # tree
    session.add_stroke((h * 0.85, w * 0.2), (h * 0.85, w * 0.8), 3, 2)    # road


def test_three_classes_land_in_their_regions_and_painted_pixels_are_kept():
    image, truth = scene()
    session = ScribbleSession(image, background=False)
    strokes(session)
    result = session.predict()
    assert set(result.classes) == {0, 1, 2}
    for c in range(3):
        region = truth == c
        assert (result.labels[region] == c).mean() > 0.9, f"class {c} region not recovered"
    drawn = session.labels != NO_LABEL
    assert np.array_equal(result.labels[drawn], session.labels[drawn])
    # a stroke deliberately "wrong" for the image is still kept exactly as drawn
    session.add_stroke((5, 150), (5, 155), 2, 2)
    result = session.predict()
    drawn = session.labels != NO_LABEL
    assert np.array_equal(result.labels[drawn], session.labels[drawn])


def test_applying_is_one_undo_step_even_after_more_strokes():
    image, truth = scene()
    before = np.full(truth.shape, 3, np.uint8)
    before[:10, :10] = 1
    layer = LabelLayer(before, NAMES, PALETTE, 3)
    session = ScribbleSession(image, background=False)
    strokes(session)
    session.apply(layer, session.predict())
    first = layer.mask.copy()
    assert (first == truth).mean() > 0.9
    session.add_stroke((60, 20), (70, 40), 2, 2)                     # another stroke: the result is replaced
    session.apply(layer, session.predict())
    assert len(layer.history) == 1
    drawn = session.labels != NO_LABEL
    assert np.array_equal(layer.mask[drawn], session.labels[drawn])
    layer.undo()
    assert np.array_equal(layer.mask, before)
    layer.redo()
    assert not np.array_equal(layer.mask, before)


def test_a_brush_edit_in_between_starts_a_new_step():
    image, _ = scene()
    layer = LabelLayer(np.full((120, 160), 3, np.uint8), NAMES, PALETTE, 3)
    session = ScribbleSession(image, background=False)
    strokes(session)
    session.apply(layer, session.predict())
    layer.dab(60, 60, 4, 0)
    after_brush = layer.mask.copy()
    session.add_stroke((100, 20), (100, 30), 2, 2)
    session.apply(layer, session.predict())
    assert len(layer.history) == 3
    layer.undo()
    assert np.array_equal(layer.mask, after_brush)


def test_confident_proposal_pixels_are_left_alone():
    image, truth = scene()
    session = ScribbleSession(image, background=False)
    strokes(session)
    result = session.predict()
    proposal = np.full(truth.shape, 1, np.uint8)           # a network said "tree" everywhere ...
    conf = np.zeros(truth.shape, np.float32)
    conf[:, :80] = 0.9                                      # ... sure of it on the left half
    out = merged_mask(proposal, result, session.labels, conf, 0.5)
    drawn = session.labels != NO_LABEL
    left = np.zeros_like(drawn)
    left[:, :80] = True
    assert (out[left & ~drawn] == 1).all()
    assert (out[~left] == truth[~left]).mean() > 0.9
    assert np.array_equal(out[drawn], session.labels[drawn])


def test_no_scribbles_no_change_and_large_images_are_reduced():
    image = np.zeros((721, 961, 3), np.uint8)
    feats = image_features(image)
    assert feats.factor == 2 and feats.full_shape == (721, 961)
    assert classify(feats, np.full((721, 961), NO_LABEL, np.uint8)) is None
    with pytest.raises(ValueError):
        classify(feats, np.full((10, 10), NO_LABEL, np.uint8))


@pytest.mark.parametrize("method", ["slic", "quickshift", "felzenszwalb"])
def test_region_methods_cover_the_image(method):
    image, _ = scene(60, 80)
    sp = compute_regions(image, method)
    assert sp.labels.shape == (60, 80) and sp.labels.min() >= 1 and sp.count > 3
    bbox, region = sp.region(5, 5)
    assert region.any()


def test_editor_key_t_strokes_fill_the_mask_in_one_undo_step(qtbot):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QApplication

    from labeltool.gui.editor import EditorWidget

    image, truth = scene()
    ed = EditorWidget()
    qtbot.addWidget(ed)
    ed.resize(900, 600)
    ed.show()
    qtbot.waitExposed(ed)
    before = np.full(truth.shape, 3, np.uint8)
    ed.load(image, before, NAMES, PALETTE, 3)
    ed.canvas.setFocus()
    QApplication.processEvents()
    qtbot.keyClick(ed.canvas, Qt.Key_T)
    assert ed.tool() == "scribble"
    ed.set_brush_radius(3)

    def pt(y, x):
        p = ed.canvas.widget_point(y + 0.5, x + 0.5)
        return QPoint(round(p.x()), round(p.y()))

    for cls, (a, b) in enumerate((((12, 16), (12, 64)), ((54, 96), (60, 112)), ((102, 32), (102, 128)))):
        ed.set_class(cls)
        qtbot.mousePress(ed.canvas, Qt.LeftButton, Qt.NoModifier, pt(*a))
        qtbot.mouseMove(ed.canvas, pt(*b))
        qtbot.mouseRelease(ed.canvas, Qt.LeftButton, Qt.NoModifier, pt(*b))
    qtbot.waitUntil(lambda: not ed.scribble_tool.busy() and (ed.mask() != before).any(), timeout=20000)
    ed.scribble_tool.wait()
    mask = ed.mask()
    assert (mask == truth).mean() > 0.9
    assert ed.is_dirty()
    drawn = ed.scribble_tool.session.labels != NO_LABEL
    assert np.array_equal(mask[drawn], ed.scribble_tool.session.labels[drawn])
    ed.undo()
    assert np.array_equal(ed.mask(), before)
    qtbot.keyClick(ed.canvas, Qt.Key_Escape)
    assert not ed.scribble_tool.session.has_scribbles()

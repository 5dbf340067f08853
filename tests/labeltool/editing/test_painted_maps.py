"""Issue 16 items 5 and 6: the layer's "painted by a person" and "unpainted" maps.

5. The scribble fill never overwrites pixels a person painted since the image was loaded (a brush fix in
   an unsure area of a proposal survives "only unsure"), and an undone stroke no longer protects them.
6. Without a Void class a new image starts *unpainted*: shown clear, refused by Accept's rule until every
   pixel is painted; painting clears it and undo brings it back."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_scribble import NAMES, PALETTE, scene, strokes  # noqa: E402

from labeltool.editing import LabelLayer, Overlay, unpainted_problem  # noqa: E402
from labeltool.editing.instances import recolour_object  # noqa: E402
from labeltool.editing.scribble import ScribbleSession  # noqa: E402

NO_VOID = ["Sky", "Tree", "Road"]


# ------------------------------------------------------------------ item 5: scribble keeps painted pixels
@pytest.mark.parametrize("only_unsure", [True, False])
def test_scribble_fill_keeps_brush_fixes_made_in_unsure_pixels(only_unsure):
    image, truth = scene()
    proposal = np.full(truth.shape, 1, np.uint8)     # the network said "tree" everywhere ...
    conf = np.full(truth.shape, 0.2, np.float32)      # ... and is unsure of all of it
    layer = LabelLayer(proposal, NAMES, PALETTE, 3)
    # the person fixes part of the sky (unsure) to "Void"-coloured class 3 with the brush
    layer.begin_step("brush")
    layer.stroke_segment((20, 100), (20, 140), 4, 3)
    layer.end_step()
    fixed = layer.mask == 3
    assert fixed.sum() > 200 and (layer.painted == fixed).all()
    session = ScribbleSession(image, background=False)
    session.set_confidence(conf)
    session.only_unsure = only_unsure
    strokes(session)
    result = session.predict()
    session.apply(layer, result)
    assert (layer.mask[fixed] == 3).all(), "the scribble fill overwrote the person's brush fix"
    rest = ~fixed
    assert np.array_equal(layer.mask[rest], result.labels[rest])   # the others took the classifier's class
    assert (layer.mask[rest] == truth[rest]).mean() > 0.9
    assert not layer.painted[rest].any()                             # the fill is not a person's painting
    # more scribbles replace the previous result (one undo step) and still leave the fix alone
    session.add_stroke((20, 110), (20, 130), 2, 0)                   # a sky stroke right over the fix
    session.apply(layer, session.predict())
    assert (layer.mask[fixed] == 3).all()
    layer.undo()
    assert np.array_equal(layer.mask == 3, fixed)                    # back to the brush fix alone


def test_an_undone_stroke_no_longer_protects_its_pixels():
    image, truth = scene()
    layer = LabelLayer(np.full(truth.shape, 1, np.uint8), NAMES, PALETTE, 3)
    layer.dab(20, 120, 5, 3)
    painted = layer.painted.copy()
    assert painted.any()
    layer.undo()
    assert not layer.painted.any()
    layer.redo()
    assert np.array_equal(layer.painted, painted)
    layer.undo()
    session = ScribbleSession(image, background=False)
    strokes(session)
    result = session.predict()
    session.apply(layer, result)
    assert np.array_equal(layer.mask, result.labels)


def test_painted_map_follows_every_person_edit_and_undo():
    layer = LabelLayer(np.zeros((40, 50), np.uint8), NAMES, PALETTE, 3)
    layer.dab(10, 10, 2, 1)
    first = layer.painted.copy()
    layer.dab(10, 12, 2, 1)                    # overlaps the first dab
    second = layer.painted.copy()
    assert second.sum() > first.sum()
    layer.undo()
    assert np.array_equal(layer.painted, first)   # pixels both dabs painted stay painted
    # a dab that changes no class marks its pixels painted but is no (invisible) undo step
    n = len(layer.history)
    layer.dab(30, 30, 2, 0)
    assert len(layer.history) == n and layer.painted[30, 30]
    layer.fill(0, 40, 2)                        # fill, polygon, replace, object edits all count
    assert layer.painted[0, 40] and layer.painted[39, 49]
    recolour_object(layer, 10, 10, 2)
    assert layer.painted[10, 10]


# ------------------------------------------------------------------ item 6: unpainted pixels without Void
def new_layer(h=30, w=40):
    return LabelLayer(np.zeros((h, w), np.uint8), NO_VOID, PALETTE[:3], None,
                      unpainted=np.ones((h, w), bool))


def test_unpainted_pixels_block_accept_until_painted_and_undo_restores_them():
    layer = new_layer()
    assert layer.unpainted_count() == 30 * 40
    msg = unpainted_problem(layer, NO_VOID)
    assert msg.startswith("1,200 pixels are not painted") and "'Sky'" in msg and "codes.txt" in msg
    change = layer.dab(15, 20, 3, 0)   # painting class 0 over class-0 placeholders changes no class ...
    assert change is not None and layer.unpainted_count() < 1200 and not layer.unpainted[15, 20]
    assert layer.is_dirty()            # ... but it is an edit, and an undo step
    before_fill = layer.unpainted.copy()
    layer.fill(0, 0, 0)                # F fills the rest (same class: still clears it)
    assert layer.unpainted_count() == 0 and unpainted_problem(layer, NO_VOID) is None
    layer.undo()
    assert np.array_equal(layer.unpainted, before_fill)
    layer.undo()
    assert layer.unpainted.all() and not layer.is_dirty()
    layer.redo()
    assert not layer.unpainted[15, 20]
    one = new_layer(1, 2)
    one.dab(0, 0, 0, 1)
    assert unpainted_problem(one, NO_VOID).startswith("1 pixel is not painted")


def test_with_a_void_class_there_are_no_unpainted_pixels():
    layer = LabelLayer(np.full((10, 10), 3, np.uint8), NAMES, PALETTE, 3)
    assert layer.unpainted is None and layer.unpainted_count() == 0
    assert unpainted_problem(layer, NAMES) is None
    with pytest.raises(ValueError):
        layer.set_unpainted(np.ones((5, 5), bool))


def test_overlay_draws_unpainted_pixels_clear_not_in_class_0():
    layer = new_layer()
    ov = Overlay(layer.mask, layer.palette, unpainted=layer.unpainted)
    assert (ov.rgba()[..., 3] == 0).all()
    ov.update(layer.dab(15, 20, 2, 0))
    rgba = ov.rgba()
    assert tuple(rgba[15, 20]) == (*PALETTE[0], 255) and rgba[0, 0, 3] == 0
    ov.update(layer.undo())
    assert (ov.rgba()[..., 3] == 0).all()


def test_scribble_fill_paints_unpainted_pixels_but_is_not_a_persons_painting():
    image, truth = scene()
    truth = np.minimum(truth, 2)
    layer = LabelLayer(np.zeros(truth.shape, np.uint8), NO_VOID, PALETTE[:3], None,
                       unpainted=np.ones(truth.shape, bool))
    session = ScribbleSession(image, background=False)
    strokes(session)
    session.apply(layer, session.predict())
    assert layer.unpainted_count() == 0 and not layer.painted.any()
    assert (layer.mask == truth).mean() > 0.9
    layer.undo()
    assert layer.unpainted.all()


# ------------------------------------------------------------------ the editor
def test_editor_starts_a_new_image_unpainted_only_without_void(qtbot):
    from PySide6.QtCore import QPoint, Qt

    from labeltool.gui.editor import EditorWidget

    image, _ = scene()
    ed = EditorWidget()
    qtbot.addWidget(ed)
    ed.resize(900, 600)
    ed.show()
    qtbot.waitExposed(ed)
    ed.load(image, None, NAMES, PALETTE, None)          # with Void: unpainted pixels are simply Void
    assert ed.layer.unpainted is None and (ed.mask() == 3).all()
    ed.load(image, None, NO_VOID, PALETTE[:3], None)
    assert ed.layer.unpainted.all() and (ed.canvas.overlay.rgba()[..., 3] == 0).all()
    ed.canvas.setFocus()
    ed.set_tool("brush")
    ed.set_class(0)
    p = ed.canvas.widget_point(60.5, 80.5)
    qtbot.mouseClick(ed.canvas, Qt.LeftButton, Qt.NoModifier, QPoint(round(p.x()), round(p.y())))
    assert not ed.layer.unpainted[60, 80] and ed.canvas.overlay.rgba()[60, 80, 3] == 255
    assert ed.is_dirty()
    ed.undo()
    assert ed.layer.unpainted.all() and ed.canvas.overlay.rgba()[60, 80, 3] == 0
    # a saved mask comes with the map its stamp kept
    mask = np.zeros(image.shape[:2], np.uint8)
    kept = np.zeros(image.shape[:2], bool)
    kept[:10] = True
    ed.load(image, mask, NO_VOID, PALETTE[:3], None, unpainted=kept)
    assert ed.layer.unpainted_count() == kept.sum() and ed.canvas.overlay.rgba()[5, 5, 3] == 0
    ed.set_unpainted(None)
    assert ed.layer.unpainted is None and ed.canvas.overlay.rgba()[5, 5, 3] == 255

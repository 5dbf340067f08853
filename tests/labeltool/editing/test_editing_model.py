"""Headless tests of the Qt-free editing model (labeltool.editing)."""

import numpy as np
import pytest
from skimage.segmentation import flood

from labeltool.editing import (
    PRESERVE_CLASS,
    PRESERVE_OFF,
    PRESERVE_VOID,
    History,
    LabelLayer,
    Overlay,
    brush,
    compute_superpixels,
    confidence_overlay,
    guess_void_index,
    regions,
)

NAMES = ["Road", "Car", "Sky", "Void"]
PALETTE = np.array([[128, 64, 128], [0, 0, 142], [70, 130, 180], [0, 0, 0]], dtype=np.uint8)
VOID = 3


def make_layer(h=60, w=80, fill=VOID, **kw):
    return LabelLayer(np.full((h, w), fill, np.uint8), NAMES, PALETTE, VOID, **kw)


# ------------------------------------------------------------------ brush
def test_dab_paints_round_disk_of_requested_radius():
    layer = make_layer()
    change = layer.dab(30, 40, 5, 1)
    painted = layer.mask == 1
    assert painted[30, 35] and painted[30, 45] and painted[25, 40] and painted[35, 40]
    assert not painted[30, 46] and not painted[24, 40] and not painted[25, 35]  # round, not square
    assert change.bbox == (25, 35, 36, 46)
    assert painted.sum() == brush.disk(5).sum()


def test_stroke_segment_has_no_gaps_and_clips_at_border():
    layer = make_layer()
    layer.stroke_segment((10, -5), (10, 200), 2, 0)
    assert (layer.mask[10, :] == 0).all()          # continuous line across the image
    assert (layer.mask[8:13, :] == 0).all()
    assert (layer.mask[14, :] == VOID).all()


def test_paint_undo_redo_matches_snapshots():
    layer = make_layer()
    snap0 = layer.mask.copy()
    layer.begin_step("stroke")
    for x in range(10, 60, 3):
        layer.dab(20, x, 4, 0)
    layer.end_step()
    snap1 = layer.mask.copy()
    layer.fill(50, 5, 2)
    snap2 = layer.mask.copy()
    assert not np.array_equal(snap1, snap2) and not np.array_equal(snap0, snap1)
    layer.undo()
    assert np.array_equal(layer.mask, snap1)
    layer.undo()  # the whole stroke is one step
    assert np.array_equal(layer.mask, snap0)
    assert layer.undo() is None
    layer.redo()
    assert np.array_equal(layer.mask, snap1)
    layer.redo()
    assert np.array_equal(layer.mask, snap2)
    layer.undo()
    layer.dab(0, 0, 1, 1)  # a new edit clears the redo stack
    assert layer.redo() is None


def test_stroke_painting_over_itself_restores_original_on_undo():
    rng = np.random.default_rng(3)
    mask = rng.integers(0, 4, (40, 50)).astype(np.uint8)
    layer = LabelLayer(mask, NAMES, PALETTE, VOID)
    layer.begin_step("stroke")
    layer.stroke_segment((5, 5), (30, 40), 6, 1)
    layer.stroke_segment((30, 40), (5, 40), 6, 2)
    layer.stroke_segment((5, 40), (5, 5), 6, 1)
    change = layer.end_step()
    after = layer.mask.copy()
    assert change is not None
    layer.undo()
    assert np.array_equal(layer.mask, mask)
    layer.redo()
    assert np.array_equal(layer.mask, after)


def test_dirty_tracking_follows_undo_to_saved_state():
    layer = make_layer()
    assert not layer.is_dirty()
    layer.dab(5, 5, 2, 0)
    assert layer.is_dirty()
    layer.mark_saved()
    assert not layer.is_dirty()
    layer.dab(20, 20, 2, 1)
    assert layer.is_dirty()
    layer.undo()
    assert not layer.is_dirty()
    layer.undo()
    assert layer.is_dirty()


# --------------------------------------------------------------- preserve
def test_preserve_void_paints_only_unlabelled():
    layer = make_layer()
    layer.mask[:, :40] = 1  # Car on the left half
    layer.set_preserve(PRESERVE_VOID)
    layer.stroke_segment((30, 10), (30, 70), 5, 2)
    assert (layer.mask[:, :40] != 2).all()            # Car untouched
    assert (layer.mask[30, 40:71] == 2).all()         # Void got painted
    layer.set_preserve(PRESERVE_OFF)
    layer.dab(30, 10, 2, 2)
    assert layer.mask[30, 10] == 2


def test_preserve_class_paints_only_over_chosen_class():
    layer = make_layer()
    layer.mask[:, :40] = 1
    layer.mask[:, 40:] = 0
    layer.set_preserve(PRESERVE_CLASS, target=1)
    layer.fill(0, 79, 2)  # clicking Road: region is Road, but only Car may change → nothing
    assert (layer.mask[:, 40:] == 0).all()
    layer.stroke_segment((10, 0), (10, 79), 3, 2)
    assert (layer.mask[10, :40] == 2).all() and (layer.mask[10, 40:] == 0).all()


def test_eraser_value_is_void_and_preserve_void_requires_void():
    assert make_layer().eraser_value == VOID
    layer = LabelLayer(np.zeros((4, 4), np.uint8), ["a", "b"], PALETTE[:2], None)
    assert layer.eraser_value == 0
    with pytest.raises(ValueError, match="Void"):
        layer.set_preserve(PRESERVE_VOID)
    assert guess_void_index(["void", "road", "Unlabelled"]) == 2
    assert guess_void_index(["road"]) is None
    # the editor and training share one rule: "ignore"/"none" are real classes that training scores
    assert guess_void_index(["road", "ignore", "none"]) is None


# -------------------------------------------------------- fill/wand/poly
def test_fill_matches_skimage_flood_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = (rng.random((50, 70)) < 0.5).astype(np.uint8)
        y, x = rng.integers(0, 50), rng.integers(0, 70)
        expect = mask.copy()
        expect[flood(mask, (y, x), connectivity=1)] = 2
        layer = LabelLayer(mask, NAMES, PALETTE, VOID)
        layer.fill(y, x, 2)
        assert np.array_equal(layer.mask, expect)


def test_fill_region_large_uses_growing_window_correctly():
    mask = np.zeros((700, 900), np.uint8)
    mask[:, 450:] = 1
    mask[300, :450] = 1  # a wall splitting the left half
    bbox, region = regions.connected_region(lambda r, c: mask[r, c] == 0, mask.shape, 10, 10,
                                            first_window=16)
    assert bbox == (0, 0, 300, 450) and region.all()


def test_wand_selects_similar_colour_connected_to_click():
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :30] = (100, 100, 100)
    img[:, 30:] = (200, 50, 50)
    img[5:10, 5:10] = (110, 95, 100)   # similar to the grey, within tolerance 12
    img[20:25, 5:10] = (160, 100, 100)  # not similar
    img[:, 45:] = (100, 100, 100)       # grey again, but not connected
    layer = LabelLayer(np.full((40, 60), VOID, np.uint8), NAMES, PALETTE, VOID)
    layer.wand(img, 0, 0, 12, 0)
    got = layer.mask == 0
    assert got[:, :30].sum() == 40 * 30 - 25 and not got[22, 7]
    assert not got[:, 30:].any()
    layer.undo()
    layer.wand(img, 0, 0, 80, 0)  # larger tolerance also takes the reddish square
    assert layer.mask[22, 7] == 0 and layer.mask[0, 35] == VOID


def test_polygon_fill_and_replace_class():
    layer = make_layer()
    layer.polygon([(10, 10), (10, 50), (40, 50), (40, 10)], 1)
    assert (layer.mask[10:41, 10:51] == 1).all() and layer.mask[9, 30] == VOID
    layer.dab(55, 70, 3, 1)
    change = layer.replace_class(1, 2)
    assert not (layer.mask == 1).any() and change.bbox == (10, 10, 59, 74)
    layer.undo()
    assert (layer.mask[10:41, 10:51] == 1).all() and layer.mask[55, 70] == 1
    with pytest.raises(ValueError):
        layer.polygon([(1, 1), (2, 2)], 1)


def test_superpixels_cover_image_and_assign_whole_segment():
    rng = np.random.default_rng(1)
    img = np.zeros((120, 160, 3), np.uint8)
    img[:, 80:] = 255
    img = (img.astype(int) + rng.integers(0, 20, img.shape)).clip(0, 255).astype(np.uint8)
    sp = compute_superpixels(img, n_segments=12, max_pixels=5000)
    assert sp.labels.shape == (120, 160) and sp.labels.min() >= 1 and sp.count >= 4
    layer = LabelLayer(np.full((120, 160), VOID, np.uint8), NAMES, PALETTE, VOID)
    layer.superpixel(sp, 60, 20, 1)
    assert np.array_equal(layer.mask == 1, sp.labels == sp.labels[60, 20])


def test_invalid_input_raises_value_error():
    with pytest.raises(ValueError, match="class index"):
        LabelLayer(np.full((3, 3), 7, np.uint8), NAMES, PALETTE, VOID)
    with pytest.raises(ValueError, match="palette"):
        LabelLayer(np.zeros((3, 3), np.uint8), NAMES, PALETTE[:2], VOID)
    layer = make_layer()
    with pytest.raises(ValueError, match="out of range"):
        layer.dab(1, 1, 2, 9)
    with pytest.raises(ValueError, match="tolerance"):
        layer.wand(np.zeros((60, 80, 3), np.uint8), 0, 0, 300, 1)


# ---------------------------------------------------------------- history
def test_history_keeps_100_steps_and_stores_diffs_not_masks():
    layer = make_layer(2000, 2000)
    for i in range(150):
        layer.dab(100 + 10 * i, 1000, 3, i % 3)
    assert len(layer.history) == 150
    # 150 full-mask copies would be 600 MB; diffs of 7x7 dabs are tiny
    assert layer.history.nbytes < 150 * 1024
    big = layer.fill(0, 0, 1)  # fill of ~4M pixels: stored as bits + one old/new value
    assert big is not None and layer.history._undo[-1].nbytes < 2000 * 2000 // 8 + 1024


def test_history_byte_budget_drops_oldest_steps():
    layer = make_layer(200, 200, history_budget=20_000)
    for i in range(40):
        layer.fill(0, 0, i % 3)  # each step ~5 kB of packed bits
    assert layer.history.nbytes <= 20_000
    assert 1 < len(layer.history) < 40
    n = len(layer.history)
    for _ in range(n):
        assert layer.undo() is not None
    assert layer.undo() is None


def test_history_rejects_misuse():
    h = History()
    with pytest.raises(ValueError):
        h.end(np.zeros((2, 2), np.uint8))
    h.begin("a")
    with pytest.raises(ValueError):
        h.begin("b")
    with pytest.raises(ValueError):
        History(budget_bytes=0)


# ---------------------------------------------------------------- overlay
def test_overlay_updates_only_touched_bbox_and_hides_classes():
    layer = make_layer()
    ov = Overlay(layer.mask, layer.palette)
    before = ov.rgba()
    ov.buffer[0, 0] = 0x12345678  # sentinel outside the edit
    change = layer.dab(30, 40, 3, 1)
    ov.update(change)
    rgba = ov.rgba()
    assert tuple(rgba[30, 40]) == (0, 0, 142, 255)
    assert ov.buffer[0, 0] == 0x12345678          # untouched: only the bbox was recoloured
    assert np.array_equal(rgba[50:, :], before[50:, :])
    vis = np.ones(4, bool)
    vis[1] = False
    ov.set_palette(layer.palette, vis)
    assert ov.rgba()[30, 40, 3] == 0 and ov.rgba()[0, 0, 3] == 255


def test_confidence_overlay_marks_low_confidence_only():
    conf = np.ones((20, 20), np.float32)
    conf[:10] = 0.1
    buf = confidence_overlay(conf, 0.5)
    assert (buf[10:] == 0).all() and (buf[:10] != 0).sum() > 50

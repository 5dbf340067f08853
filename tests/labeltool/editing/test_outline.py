"""Outline-only display (issue 19, item 7b): class boundaries computed without Qt, kept up to date by edits."""

import numpy as np
import pytest

from labeltool.editing import Overlay, boundary
from labeltool.editing.outline import grow_bbox

PALETTE = np.array([[0, 0, 0], [230, 159, 0], [86, 180, 233]], np.uint8)


def test_a_square_is_outlined_on_both_sides_and_the_image_border_is_no_boundary():
    mask = np.zeros((6, 7), np.uint8)
    mask[2:4, 2:5] = 1
    expected = np.array([
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 1, 1, 0, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 0, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0]], bool)
    assert np.array_equal(boundary(mask), expected)
    assert not boundary(np.full((4, 4), 2, np.uint8)).any()  # one class: nothing to outline
    big = np.zeros((5, 5), np.uint8)
    big[1:4, 1:4] = 2
    assert not boundary(big)[2, 2]  # the inside of a region is not outlined (4-neighbours only)


def test_boundary_of_a_box_sees_the_pixels_around_it():
    rng = np.random.default_rng(3)
    mask = rng.integers(0, 3, (23, 31)).astype(np.uint8)
    mask[5:15, 5:20] = 1
    whole = boundary(mask)
    for _ in range(50):
        y0, y1 = sorted(rng.integers(0, 24, 2))
        x0, x1 = sorted(rng.integers(0, 32, 2))
        assert np.array_equal(boundary(mask, (y0, x0, y1, x1)), whole[y0:y1, x0:x1])
    with pytest.raises(ValueError, match="not inside"):
        boundary(mask, (0, 0, 24, 5))
    assert grow_bbox((0, 3, 2, 31), mask.shape) == (0, 2, 3, 31)


def test_outline_overlay_colours_only_boundaries_in_class_colours_and_follows_edits():
    rng = np.random.default_rng(4)
    mask = np.zeros((40, 50), np.uint8)
    mask[10:30, 10:40] = 1
    overlay = Overlay(mask, PALETTE)
    overlay.set_outline(True)
    rgba = overlay.rgba()
    assert rgba[20, 25, 3] == 0  # inside the region: the image shows through
    assert tuple(rgba[10, 25]) == (230, 159, 0, 255)  # its edge: class 1's colour
    assert tuple(rgba[9, 25]) == (0, 0, 0, 255)  # the other side: class 0's colour
    for _ in range(30):  # edits recolour only the grown box they touched; the result equals a full redraw
        y0, x0 = rng.integers(0, 38), rng.integers(0, 48)
        y1, x1 = y0 + rng.integers(1, 8), x0 + rng.integers(1, 8)
        mask[y0:y1, x0:x1] = rng.integers(0, 3)
        box = overlay.update((y0, x0, min(y1, 40), min(x1, 50)))
        assert box[0] <= y0 and box[1] <= x0
        fresh = Overlay(mask, PALETTE)
        fresh.set_outline(True)
        assert np.array_equal(overlay.buffer, fresh.buffer)
    overlay.set_outline(False)
    assert np.array_equal(overlay.buffer, Overlay(mask, PALETTE).buffer)  # filled again


def test_outline_keeps_hidden_classes_and_unpainted_pixels_clear():
    mask = np.zeros((8, 8), np.uint8)
    mask[:, 4:] = 2
    unpainted = np.zeros((8, 8), bool)
    unpainted[0] = True
    overlay = Overlay(mask, PALETTE, visible=np.array([True, True, False]), unpainted=unpainted)
    overlay.set_outline(True)
    rgba = overlay.rgba()
    assert rgba[3, 3, 3] == 255 and rgba[3, 4, 3] == 0  # class 2 is hidden: only class 0's side shows
    assert rgba[0, 3, 3] == 0  # unpainted

"""Class boundaries for the outline-only display (no Qt).

A pixel is on a boundary when one of its four neighbours (up, down, left, right) inside the image holds
another class; the image's border is no boundary. Both sides of a boundary are boundary pixels, so each
class is outlined in its own colour. :func:`boundary` answers for a box of the mask with the pixels around
it taken into account, so an edit recomputes only the box it touched grown by one pixel
(:func:`grow_bbox`): the pixels whose answer an edit can change.
"""

from __future__ import annotations

import numpy as np

from .brush import BBox


def grow_bbox(bbox: BBox, shape: tuple[int, int], by: int = 1) -> BBox:
    """``bbox`` (y0, x0, y1, x1; end exclusive) grown by ``by`` pixels on every side, inside ``shape``."""
    y0, x0, y1, x1 = bbox
    return max(y0 - by, 0), max(x0 - by, 0), min(y1 + by, shape[0]), min(x1 + by, shape[1])


def boundary(mask: np.ndarray, bbox: BBox | None = None) -> np.ndarray:
    """Bool array: True where a pixel of ``mask`` (H x W class indices) touches another class (4-neighbours).
    With ``bbox`` the answer covers only that box (shape y1-y0 x x1-x0), its neighbours outside the box
    included."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D H x W array, got shape {mask.shape}")
    h, w = mask.shape
    y0, x0, y1, x1 = (0, 0, h, w) if bbox is None else bbox
    if not (0 <= y0 <= y1 <= h and 0 <= x0 <= x1 <= w):
        raise ValueError(f"box {bbox} is not inside the {h} x {w} mask")
    gy0, gx0, gy1, gx1 = max(y0 - 1, 0), max(x0 - 1, 0), min(y1 + 1, h), min(x1 + 1, w)
    window = mask[gy0:gy1, gx0:gx1]
    edge = np.zeros(window.shape, dtype=bool)
    vertical = window[1:, :] != window[:-1, :]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    horizontal = window[:, 1:] != window[:, :-1]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge[y0 - gy0:y1 - gy0, x0 - gx0:x1 - gx0]


__all__ = ["boundary", "grow_bbox"]

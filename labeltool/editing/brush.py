"""Pure raster helpers for the brush and polygon tools (no Qt).

A *bbox* everywhere in :mod:`labeltool.editing` is ``(y0, x0, y1, x1)`` with
exclusive ends, in image pixel coordinates.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from skimage.draw import line as _sk_line
from skimage.draw import polygon as _sk_polygon

BBox = tuple[int, int, int, int]

MAX_RADIUS = 500


def bbox_slices(bbox: BBox) -> tuple[slice, slice]:
    """Numpy slices ``(rows, cols)`` of a bbox."""
    y0, x0, y1, x1 = bbox
    return slice(y0, y1), slice(x0, x1)


def bbox_union(a: BBox | None, b: BBox | None) -> BBox | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def bbox_area(bbox: BBox) -> int:
    return max(0, bbox[2] - bbox[0]) * max(0, bbox[3] - bbox[1])


def _check_radius(radius: int) -> int:
    r = int(radius)
    if r < 0 or r > MAX_RADIUS:
        raise ValueError(f"brush radius must be in 0..{MAX_RADIUS}, got {radius!r}")
    return r


@lru_cache(maxsize=64)
def disk(radius: int) -> np.ndarray:
    """Boolean disk footprint of shape (2r+1, 2r+1).

    Uses ``dy² + dx² <= r(r+1)`` (≈ radius r+½), which gives round, symmetric
    dabs; radius 0 is a single pixel. The returned array is read-only.
    """
    r = _check_radius(radius)
    yy, xx = np.ogrid[-r:r + 1, -r:r + 1]
    fp = (yy * yy + xx * xx) <= r * (r + 1)
    fp.setflags(write=False)
    return fp


def capsule(p0: tuple[float, float], p1: tuple[float, float], radius: int,
            shape: tuple[int, int]) -> tuple[BBox, np.ndarray] | None:
    """Footprint of a round brush dragged in a straight line from p0 to p1.

    Points are ``(y, x)`` pixel coordinates. Returns ``(bbox, footprint)`` clipped to
    ``shape`` or None when the stroke lies completely outside the image. When
    p0 == p1 this is a single dab equal to :func:`disk` (clipped).
    """
    r = _check_radius(radius)
    h, w = shape
    ay, ax = int(round(p0[0])), int(round(p0[1]))
    by, bx = int(round(p1[0])), int(round(p1[1]))
    y0 = max(min(ay, by) - r, 0)
    x0 = max(min(ax, bx) - r, 0)
    y1 = min(max(ay, by) + r + 1, h)
    x1 = min(max(ax, bx) + r + 1, w)
    if y0 >= y1 or x0 >= x1:
        return None
    if ay == by and ax == bx:
        d = disk(r)
        fp = d[y0 - (ay - r):y1 - (ay - r), x0 - (ax - r):x1 - (ax - r)]
        return (y0, x0, y1, x1), fp
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] - ay
    xx = np.arange(x0, x1, dtype=np.float32)[None, :] - ax
    dy, dx = float(by - ay), float(bx - ax)
    t = (yy * dy + xx * dx) / (dy * dy + dx * dx)
    np.clip(t, 0.0, 1.0, out=t)
    ey = yy - t * dy
    ex = xx - t * dx
    fp = (ey * ey + ex * ex) <= r * (r + 1) + 1e-3
    return (y0, x0, y1, x1), fp


def polygon_footprint(points, shape: tuple[int, int]) -> tuple[BBox, np.ndarray] | None:
    """Rasterise a closed polygon given as ``[(y, x), ...]`` (≥ 3 vertices).

    Interior *and* outline pixels are included, so thin polygons still paint.
    Returns ``(bbox, footprint)`` or None when nothing falls inside the image.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError("polygon points must be a sequence of (y, x) pairs")
    if len(pts) < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {len(pts)}")
    h, w = shape
    rr, cc = _sk_polygon(pts[:, 0], pts[:, 1], shape=shape)
    ip = np.round(pts).astype(int)
    edges = [_sk_line(*ip[i], *ip[(i + 1) % len(ip)]) for i in range(len(ip))]
    pr = np.concatenate([e[0] for e in edges])
    pc = np.concatenate([e[1] for e in edges])
    keep = (pr >= 0) & (pr < h) & (pc >= 0) & (pc < w)
    rr = np.concatenate([rr, pr[keep]])
    cc = np.concatenate([cc, pc[keep]])
    if rr.size == 0:
        return None
    y0, y1 = int(rr.min()), int(rr.max()) + 1
    x0, x1 = int(cc.min()), int(cc.max()) + 1
    fp = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    fp[rr - y0, cc - x0] = True
    return (y0, x0, y1, x1), fp

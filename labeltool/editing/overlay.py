"""Colour overlay buffers kept in sync with a mask (no Qt).

The overlay is an HxW ``uint32`` array whose values are ``0xAARRGGBB``; on a
little-endian machine its bytes are B, G, R, A, exactly the layout of
``QImage.Format_ARGB32_Premultiplied`` (alpha is 0 or 255, so premultiplied and
straight colours coincide).  The GUI wraps the same memory in a QImage, so a
partial :meth:`Overlay.update` is all it takes to recolour the screen; the
overlay opacity is applied by the painter.
"""

from __future__ import annotations

import sys

import numpy as np

from .brush import BBox, bbox_slices
from .history import Change
from .outline import boundary, grow_bbox

if sys.byteorder != "little":  # pragma: no cover - all supported platforms are little-endian
    raise ImportError("labeltool.editing.overlay assumes a little-endian machine")


def pack_argb(rgb: np.ndarray, alpha: int = 255) -> np.ndarray:
    """(N,3) uint8 RGB → (N,) uint32 0xAARRGGBB (premultiplied by ``alpha``)."""
    c = np.asarray(rgb, dtype=np.uint32) * np.uint32(alpha) // np.uint32(255)
    return (np.uint32(alpha) << 24) | (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]


class Overlay:
    """Palette-coloured view of a mask; hidden classes and ``unpainted`` pixels (the layer's map of
    pixels nobody painted, read at every update; None: none) are transparent. With ``outline`` on, only
    the class boundaries (:func:`labeltool.editing.outline.boundary`) are coloured, in their class's colour."""

    def __init__(self, mask: np.ndarray, palette: np.ndarray, visible: np.ndarray | None = None,
                 unpainted: np.ndarray | None = None, outline: bool = False):
        self.mask = mask
        self.unpainted = unpainted
        self.buffer = np.zeros(mask.shape, dtype=np.uint32)
        self.lut = np.zeros(256, dtype=np.uint32)
        self.outline = bool(outline)
        self.set_palette(palette, visible)

    def set_outline(self, on: bool) -> None:
        """Outline-only (True) or filled (False) display; recolours all."""
        self.outline = bool(on)
        self.refresh()

    def set_palette(self, palette: np.ndarray, visible: np.ndarray | None = None) -> None:
        """New colours and/or visibility: rebuilds the lookup table and recolours all."""
        pal = np.asarray(palette, dtype=np.uint8)
        vis = np.ones(len(pal), dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
        if vis.shape != (len(pal),):
            raise ValueError(f"visible must have {len(pal)} entries, got shape {vis.shape}")
        lut = np.zeros(256, dtype=np.uint32)
        lut[:len(pal)] = np.where(vis, pack_argb(pal), 0)
        self.lut = lut
        self.refresh()

    def refresh(self) -> None:
        """Recolour the whole image (used on load and palette changes only)."""
        np.take(self.lut, self.mask, out=self.buffer)
        if self.outline:
            self.buffer[~boundary(self.mask)] = 0
        if self.unpainted is not None:
            self.buffer[self.unpainted] = 0

    def set_unpainted(self, unpainted: np.ndarray | None) -> None:
        self.unpainted = unpainted
        self.refresh()

    def update(self, change: Change | BBox | None) -> BBox | None:
        """Recolour only what ``change`` touched; returns the bbox to repaint."""
        if change is None:
            return None
        if self.outline:  # an edit changes the boundary one pixel around what it touched
            bbox = grow_bbox(change.bbox if isinstance(change, Change) else change, self.mask.shape)
            sl = bbox_slices(bbox)
            colours = self.lut[self.mask[sl]]
            colours[~boundary(self.mask, bbox)] = 0
            if self.unpainted is not None:
                colours[self.unpainted[sl]] = 0
            self.buffer[sl] = colours
            return bbox
        if self.unpainted is not None:  # an edit may have painted pixels it did not recolour
            bbox = change.bbox if isinstance(change, Change) else change
            sl = bbox_slices(bbox)
            self.buffer[sl] = np.where(self.unpainted[sl], np.uint32(0), self.lut[self.mask[sl]])
            return bbox
        if isinstance(change, Change):
            sl = bbox_slices(change.bbox)
            if change.region is not None and change.value is not None:
                self.buffer[sl][change.region] = self.lut[change.value]
            elif change.region is not None:
                self.buffer[sl][change.region] = self.lut[self.mask[sl][change.region]]
            else:
                self.buffer[sl] = self.lut[self.mask[sl]]
            return change.bbox
        sl = bbox_slices(change)
        self.buffer[sl] = self.lut[self.mask[sl]]
        return change

    def rgba(self) -> np.ndarray:
        """HxWx4 RGBA uint8 copy (for screenshots/tests)."""
        b = self.buffer.view(np.uint8).reshape(*self.buffer.shape, 4)
        return b[..., [2, 1, 0, 3]].copy()


def confidence_overlay(conf: np.ndarray, threshold: float = 0.5,
                       rgb: tuple[int, int, int] = (255, 0, 255), alpha: int = 170) -> np.ndarray:
    """uint32 ARGB32-premultiplied buffer marking pixels with ``conf < threshold``
    with diagonal stripes, so low-confidence areas stand out over any class colour."""
    conf = np.asarray(conf)
    if conf.ndim != 2:
        raise ValueError(f"confidence must be a 2-D HxW array, got shape {conf.shape}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"confidence threshold must be in 0..1, got {threshold!r}")
    h, w = conf.shape
    yy, xx = np.ogrid[:h, :w]
    stripes = ((yy + xx) // 4) % 2 == 0
    colour = pack_argb(np.array([rgb]), alpha)[0]
    out = np.zeros((h, w), dtype=np.uint32)
    out[(conf < threshold) & stripes] = colour
    return out

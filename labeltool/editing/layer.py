"""LabelLayer: the editable class mask with palette, visibility, preserve mode and
undo history (no Qt).  Every edit returns a :class:`Change` (bbox + changed pixels)
so views can redraw just that rectangle.

Two bool maps go with the mask, kept by every edit and by undo/redo (history flips):

- ``painted``: pixels a person painted since the layer was made (brush, eraser, fill, wand,
  polygon, superpixel, replace, object edits, clean-up: every edit but the scribble fill, which
  passes ``person=False``). The scribble fill never changes them.
- ``unpainted``: for an image that had no mask in a project without a Void class, the pixels nobody
  has painted yet (None otherwise). Every edit, the scribble fill included, takes the pixels it
  touches out of it; the overlay shows them transparent; Accept refuses while any are left
  (:func:`labeltool.editing.unpainted.unpainted_problem`).
"""

from __future__ import annotations

import numpy as np

from model.project.codes import find_void

from . import brush, regions
from .history import DEFAULT_BUDGET, Change, History

PRESERVE_OFF = "off"
PRESERVE_VOID = "void"      # paint only over Void / unlabelled pixels
PRESERVE_CLASS = "class"    # paint only over one chosen class
PRESERVE_MODES = (PRESERVE_OFF, PRESERVE_VOID, PRESERVE_CLASS)

# One Void rule everywhere: the engine's (training ignores exactly the class the eraser paints).
guess_void_index = find_void


def validate_palette(palette, n_classes: int) -> np.ndarray:
    pal = np.asarray(palette)
    if pal.ndim != 2 or pal.shape[1] != 3:
        raise ValueError(f"palette must have shape (N, 3), got {pal.shape}")
    if pal.shape[0] < n_classes:
        raise ValueError(f"palette has {pal.shape[0]} colours but there are {n_classes} classes")
    if pal.dtype != np.uint8:
        if pal.size and (pal.min() < 0 or pal.max() > 255):
            raise ValueError("palette values must be in 0..255")
        pal = pal.astype(np.uint8)
    return np.array(pal[:n_classes], dtype=np.uint8, copy=True)


class LabelLayer:
    """Class-index mask (HxW uint8) plus what is needed to edit it."""

    def __init__(self, mask: np.ndarray, names: list[str], palette, void_index: int | None,
                 history_budget: int = DEFAULT_BUDGET, unpainted: np.ndarray | None = None):
        names = [str(n) for n in names]
        if not names:
            raise ValueError("at least one class name is required")
        if len(names) > 256:
            raise ValueError(f"at most 256 classes fit a uint8 mask, got {len(names)}")
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"mask must be 2-D (HxW), got shape {mask.shape}")
        if mask.dtype != np.uint8:
            if mask.size and (mask.min() < 0 or mask.max() > 255):
                raise ValueError("mask values must be class indices in 0..255")
            mask = mask.astype(np.uint8)
        if mask.size and int(mask.max()) >= len(names):
            raise ValueError(f"mask contains class index {int(mask.max())} but only "
                             f"{len(names)} classes are defined")
        if void_index is not None and not 0 <= void_index < len(names):
            raise ValueError(f"void_index {void_index} is not a valid class index")
        self.mask = np.ascontiguousarray(mask).copy()
        self.names = names
        self.palette = validate_palette(palette, len(names))
        self.void_index = void_index
        self.visible = np.ones(len(names), dtype=bool)
        self.history = History(history_budget)
        self.preserve_mode = PRESERVE_OFF
        self.preserve_class = 0
        self._saved_state = self.history.state_id
        self.painted = np.zeros(self.mask.shape, dtype=bool)  # by a person, since the layer was made
        self.unpainted: np.ndarray | None = None
        self.set_unpainted(unpainted)

    # ------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape

    @property
    def n_classes(self) -> int:
        return len(self.names)

    @property
    def eraser_value(self) -> int:
        return 0 if self.void_index is None else self.void_index

    def class_at(self, y: int, x: int) -> int:
        return int(self.mask[y, x])

    def contains(self, y: int, x: int) -> bool:
        return 0 <= y < self.mask.shape[0] and 0 <= x < self.mask.shape[1]

    def check_class(self, value: int) -> int:
        v = int(value)
        if not 0 <= v < self.n_classes:
            raise ValueError(f"class index {value!r} is out of range 0..{self.n_classes - 1}")
        return v

    # --------------------------------------------------------------- dirty
    def is_dirty(self) -> bool:
        return self.history.state_id != self._saved_state

    def mark_saved(self, state_id: int | None = None) -> None:
        """The mask as it is now (or as it was at history state ``state_id``) is what is on disk."""
        self._saved_state = self.history.state_id if state_id is None else state_id

    # ------------------------------------------------------- painted maps
    def set_unpainted(self, unpainted: np.ndarray | None) -> None:
        """The pixels nobody painted (bool H x W, copied), or None when the notion does not apply
        (the project has a Void class, or the image had a mask)."""
        if unpainted is None:
            self.unpainted = None
            return
        arr = np.asarray(unpainted)
        if arr.shape != self.mask.shape:
            raise ValueError(f"unpainted map of shape {arr.shape} does not match the mask {self.mask.shape}")
        self.unpainted = np.array(arr, dtype=bool, copy=True)

    def unpainted_count(self) -> int:
        return 0 if self.unpainted is None else int(np.count_nonzero(self.unpainted))

    def touch(self, bbox, region: np.ndarray, person: bool = True) -> dict[str, np.ndarray]:
        """``region`` (bool over ``bbox``) is being painted: by a person it joins ``painted``; by
        anyone it leaves ``unpainted``. Returns the flips for :meth:`History.record`."""
        sl = brush.bbox_slices(bbox)
        flips = {}
        if person:
            pc = self.painted[sl]
            new = np.greater(region, pc)  # region & ~painted, in one pass
            if new.any():
                pc |= new
                flips["painted"] = new
        if self.unpainted is not None:
            uc = self.unpainted[sl]
            cleared = region & uc
            if cleared.any():
                np.greater(uc, cleared, out=uc)
                flips["unpainted"] = cleared
        return flips

    def _maps(self):
        return {"painted": (self.painted, True), "unpainted": (self.unpainted, False)}

    # ----------------------------------------------------- palette/visible
    def set_color(self, index: int, rgb) -> None:
        index = self.check_class(index)
        col = np.asarray(rgb)
        if col.shape != (3,) or col.min() < 0 or col.max() > 255:
            raise ValueError(f"colour must be three values in 0..255, got {rgb!r}")
        self.palette[index] = col.astype(np.uint8)

    def set_visible(self, index: int, visible: bool) -> None:
        self.visible[self.check_class(index)] = bool(visible)

    # ------------------------------------------------------------ preserve
    def set_preserve(self, mode: str, target: int | None = None) -> None:
        if mode not in PRESERVE_MODES:
            raise ValueError(f"preserve mode must be one of {PRESERVE_MODES}, got {mode!r}")
        if mode == PRESERVE_VOID and self.void_index is None:
            raise ValueError("preserve 'void' needs a Void/unlabelled class")
        if target is not None:
            self.preserve_class = self.check_class(target)
        self.preserve_mode = mode

    def _writable(self, crop: np.ndarray) -> np.ndarray | None:
        if self.preserve_mode == PRESERVE_VOID:
            return crop == self.void_index
        if self.preserve_mode == PRESERVE_CLASS:
            return crop == self.preserve_class
        return None

    # --------------------------------------------------------- transactions
    def begin_step(self, label: str) -> None:
        self.history.begin(label)

    def end_step(self) -> Change | None:
        return self.history.end(self.mask)

    def _one_step(self, label: str, fn) -> Change | None:
        if self.history.in_transaction:
            return fn()
        self.history.begin(label)
        try:
            fn()
        finally:
            change = self.history.end(self.mask)
        return change

    # ------------------------------------------------------------ painting
    def paint_region(self, bbox, region: np.ndarray, value: int,
                     old_value: int | None = None, person: bool = True) -> Change | None:
        """Write ``value`` where ``region`` (bool over ``bbox``) is set, honouring preserve
        mode.  Inside an open step the change joins it; otherwise it is its own step.
        ``old_value`` may be given when every pixel of ``region`` is known to hold it;
        ``person=False`` (the scribble fill) leaves the ``painted`` map alone."""
        value = self.check_class(value)
        return self._one_step("paint", lambda: self._paint(bbox, region, value, old_value, person))

    def _paint(self, bbox, region, value, old_value=None, person=True) -> Change | None:
        crop = self.mask[brush.bbox_slices(bbox)]
        writable = self._writable(crop)
        touched = region if writable is None else region & writable
        if old_value is not None and old_value != value:
            changed = touched
        else:
            changed = touched & (crop != value)
        if changed is region:  # never keep a reference to the caller's array
            changed = np.array(region, dtype=bool, copy=True)
        flips = self.touch(bbox, touched, person)
        if not flips and not changed.any():
            return None
        old = old_value if old_value is not None else crop[changed]
        self.history.record(bbox, changed, old, value, flips)
        crop[changed] = value
        return Change(bbox, changed, value)

    def stroke_segment(self, p0, p1, radius: int, value: int) -> Change | None:
        """Round brush from p0 to p1 (``(y, x)``); p0 == p1 is a single dab."""
        value = self.check_class(value)
        fp = brush.capsule(p0, p1, radius, self.mask.shape)
        if fp is None:
            return None
        return self._one_step("brush", lambda: self._paint(fp[0], fp[1], value))

    def dab(self, y: float, x: float, radius: int, value: int) -> Change | None:
        return self.stroke_segment((y, x), (y, x), radius, value)

    def fill(self, y: int, x: int, value: int) -> Change | None:
        """Contiguous fill of the class region under (y, x) with ``value``."""
        value = self.check_class(value)
        bbox, region = regions.fill_region(self.mask, int(y), int(x))
        old = self.class_at(y, x)
        return self._one_step("fill", lambda: self._paint(bbox, region, value, old))

    def wand(self, image: np.ndarray, y: int, x: int, tolerance: int, value: int) -> Change | None:
        """Paint the region of similar image colour connected to (y, x)."""
        value = self.check_class(value)
        if image.shape[:2] != self.mask.shape:
            raise ValueError(f"image shape {image.shape[:2]} does not match mask {self.mask.shape}")
        bbox, region = regions.wand_region(image, int(y), int(x), tolerance)
        return self._one_step("wand", lambda: self._paint(bbox, region, value))

    def superpixel(self, sp: regions.Superpixels, y: int, x: int, value: int) -> Change | None:
        value = self.check_class(value)
        if sp.labels.shape != self.mask.shape:
            raise ValueError("superpixels were computed for an image of another size")
        res = sp.region(int(y), int(x))
        if res is None:
            return None
        return self._one_step("superpixel", lambda: self._paint(res[0], res[1], value))

    def polygon(self, points, value: int) -> Change | None:
        """Fill the polygon ``[(y, x), ...]`` with ``value``."""
        value = self.check_class(value)
        fp = brush.polygon_footprint(points, self.mask.shape)
        if fp is None:
            return None
        return self._one_step("polygon", lambda: self._paint(fp[0], fp[1], value))

    def replace_class(self, a: int, b: int) -> Change | None:
        """Replace every pixel of class ``a`` by ``b`` in the whole image (one step)."""
        a, b = self.check_class(a), self.check_class(b)
        if a == b:
            return None
        where = self.mask == a
        rows = np.flatnonzero(where.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(where[rows[0]:rows[-1] + 1].any(axis=0))
        bbox = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
        region = where[brush.bbox_slices(bbox)]
        return self._one_step("replace", lambda: self._paint(bbox, region, b, a))

    # ------------------------------------------------------------ undo/redo
    def undo(self) -> Change | None:
        return self.history.undo(self.mask, self._maps())

    def redo(self) -> Change | None:
        return self.history.redo(self.mask, self._maps())

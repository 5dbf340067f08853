"""Bounded undo/redo history storing bbox diffs (no Qt).

Each step keeps the bounding box of what it changed, the changed pixels as a
bit-packed boolean mask (1 bit per bbox pixel) and the old/new values of just the
changed pixels — collapsed to a single number when they are all equal, which is
the usual case (a brush stroke or fill writes one class, a fill replaces one
class).  A fill over half of a 4K image therefore costs ~1 MB, not 2 x 8 MB.
Steps are dropped oldest-first once the total exceeds the byte budget.

A step may also flip pixels of the layer's bool maps (``flips``: map name -> bool over the step's
bbox, the pixels the step set to the map's "done" value): the "painted by a person" map and the
"unpainted" map (see :mod:`labeltool.editing.layer`). Undo puts them back, redo flips them again.
A step that changed no class and flipped only *quiet* maps (``painted``: invisible on screen) is
not kept: it would be an undo step that does nothing the user can see.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .brush import BBox, bbox_area, bbox_slices, bbox_union

DEFAULT_BUDGET = 256 * 1024 * 1024
_STEP_OVERHEAD = 256  # python object overhead estimate per step
QUIET_FLIPS = frozenset({"painted"})  # maps whose flips alone do not make an undo step

# map name -> (the layer's bool array, the value a flipped pixel has after the step)
Maps = dict[str, tuple[np.ndarray, bool]]

Values = int | np.ndarray


def _compact(values: np.ndarray) -> Values:
    if values.size and int(values.min()) == int(values.max()):
        return int(values[0])
    return values


def _nbytes(v: Values) -> int:
    return v.nbytes if isinstance(v, np.ndarray) else 0


@dataclass
class Change:
    """What an edit touched: ``region`` (bool over bbox) of changed pixels, and
    ``value`` when all of them now hold the same class (else None)."""

    bbox: BBox
    region: np.ndarray | None = None
    value: int | None = None


@dataclass
class Step:
    label: str
    bbox: BBox
    packed: np.ndarray
    old: Values
    new: Values
    id: int
    prev_id: int
    # map name -> packed bits over bbox, or None: the same pixels as ``packed`` (the usual case)
    flips: dict[str, np.ndarray | None] = field(default_factory=dict)
    nbytes: int = field(init=False)

    def __post_init__(self):
        self.nbytes = self.packed.nbytes + _nbytes(self.old) + _nbytes(self.new) + _STEP_OVERHEAD \
            + sum(p.nbytes for p in self.flips.values() if p is not None)

    def _unpack(self, packed: np.ndarray) -> np.ndarray:
        h, w = self.bbox[2] - self.bbox[0], self.bbox[3] - self.bbox[1]
        return np.unpackbits(packed, count=h * w).view(bool).reshape(h, w)

    def changed(self) -> np.ndarray:
        return self._unpack(self.packed)

    def flipped(self, name: str, changed: np.ndarray | None = None) -> np.ndarray | None:
        """The pixels the step flipped in map ``name`` (None: none); ``changed``: :meth:`changed`, if known."""
        if name not in self.flips:
            return None
        packed = self.flips[name]
        if packed is None:
            return self.changed() if changed is None else changed
        return self._unpack(packed)


class History:
    """Undo/redo stacks with transactions (one stroke = one step) and a byte budget."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET):
        if budget_bytes <= 0:
            raise ValueError(f"history budget must be positive, got {budget_bytes!r}")
        self.budget_bytes = int(budget_bytes)
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._ids = itertools.count(1)
        self.state_id = 0  # identifies the current mask state (for dirty tracking)
        self._open: str | None = None
        self._patches: list[tuple[BBox, np.ndarray, Values, int | None, dict | None]] = []

    # ------------------------------------------------------------------ info
    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._undo) + sum(s.nbytes for s in self._redo)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def __len__(self) -> int:
        return len(self._undo)

    @property
    def in_transaction(self) -> bool:
        return self._open is not None

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._open = None
        self._patches.clear()

    # ----------------------------------------------------------- recording
    def begin(self, label: str) -> None:
        if self._open is not None:
            raise ValueError(f"history step {self._open!r} is still open; end it first")
        self._open = label
        self._patches = []

    def record(self, bbox: BBox, changed: np.ndarray, old: Values, new: int | None = None,
               flips: dict[str, np.ndarray] | None = None) -> None:
        """Note pixels about to change: ``changed`` (bool over bbox), their old values
        and, if known, the single value they are about to get; ``flips``: the pixels (bool over
        bbox) this patch flipped in each of the layer's maps."""
        if self._open is None:
            raise ValueError("history.record() called outside begin()/end()")
        self._patches.append((bbox, changed, old, new, flips or None))

    def end(self, mask: np.ndarray) -> Change | None:
        """Close the open step; ``mask`` is the current (already edited) mask."""
        if self._open is None:
            raise ValueError("history.end() called without begin()")
        label, patches = self._open, self._patches
        self._open, self._patches = None, []
        if not patches:
            return None
        if len(patches) == 1:
            bbox, changed, old, new, flips = patches[0]
            flips = flips or {}
            if new is None:
                new = _compact(mask[bbox_slices(bbox)][changed])
        else:
            bbox = None
            for b, *_ in patches:
                bbox = bbox_union(bbox, b)
            cur = mask[bbox_slices(bbox)]
            before = cur.copy()
            changed = np.zeros(cur.shape, dtype=bool)
            flips = {}
            for b, ch, ov, _, fl in reversed(patches):  # earliest old value wins
                sl = (slice(b[0] - bbox[0], b[2] - bbox[0]), slice(b[1] - bbox[1], b[3] - bbox[1]))
                before[sl][ch] = ov
                changed[sl] |= ch
                for name, f in (fl or {}).items():  # a pixel flips at most once in a step
                    if name not in flips:
                        flips[name] = np.zeros(cur.shape, dtype=bool)
                    flips[name][sl] |= f
            changed &= before != cur
            old = _compact(before[changed])
            new = _compact(cur[changed])
        if not changed.any() and all(name in QUIET_FLIPS for name in flips):
            return None
        if isinstance(old, np.ndarray):
            old = old.copy()
        packed = np.packbits(changed)
        step = Step(label, bbox, packed, old, new, next(self._ids), self.state_id,
                    {name: None if f is changed or np.array_equal(f, changed) else np.packbits(f)
                     for name, f in flips.items()})
        self._redo.clear()
        self._undo.append(step)
        self.state_id = step.id
        self._enforce_budget()
        return Change(bbox, changed, new if isinstance(new, int) else None)

    def _enforce_budget(self) -> None:
        total = self.nbytes
        while total > self.budget_bytes and len(self._undo) > 1:
            total -= self._undo.pop(0).nbytes

    # -------------------------------------------------------------- replay
    def _apply(self, mask: np.ndarray, step: Step, values: Values, maps: Maps | None, redo: bool) -> Change:
        changed = step.changed()
        sl = bbox_slices(step.bbox)
        mask[sl][changed] = values
        for name, (arr, done) in (maps or {}).items():
            flipped = step.flipped(name, changed)
            if flipped is not None and arr is not None:
                a = arr[sl]
                if done == redo:
                    a |= flipped
                else:
                    np.greater(a, flipped, out=a)  # a & ~flipped
        return Change(step.bbox, changed, values if isinstance(values, int) else None)

    def undo(self, mask: np.ndarray, maps: Maps | None = None) -> Change | None:
        if self._open is not None:
            raise ValueError("cannot undo while a step is being recorded")
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        self.state_id = step.prev_id
        return self._apply(mask, step, step.old, maps, redo=False)

    def redo(self, mask: np.ndarray, maps: Maps | None = None) -> Change | None:
        if self._open is not None:
            raise ValueError("cannot redo while a step is being recorded")
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        self.state_id = step.id
        return self._apply(mask, step, step.new, maps, redo=True)


__all__ = ["Change", "History", "Step", "DEFAULT_BUDGET", "bbox_area"]

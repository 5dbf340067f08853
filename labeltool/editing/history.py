"""Bounded undo/redo history storing bbox diffs (no Qt).

Each step keeps the bounding box of what it changed, the changed pixels as a
bit-packed boolean mask (1 bit per bbox pixel) and the old/new values of just the
changed pixels — collapsed to a single number when they are all equal, which is
the usual case (a brush stroke or fill writes one class, a fill replaces one
class).  A fill over half of a 4K image therefore costs ~1 MB, not 2 x 8 MB.
Steps are dropped oldest-first once the total exceeds the byte budget.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .brush import BBox, bbox_area, bbox_slices, bbox_union

DEFAULT_BUDGET = 256 * 1024 * 1024
_STEP_OVERHEAD = 256  # python object overhead estimate per step

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
    nbytes: int = field(init=False)

    def __post_init__(self):
        self.nbytes = self.packed.nbytes + _nbytes(self.old) + _nbytes(self.new) + _STEP_OVERHEAD

    def changed(self) -> np.ndarray:
        h, w = self.bbox[2] - self.bbox[0], self.bbox[3] - self.bbox[1]
        return np.unpackbits(self.packed, count=h * w).view(bool).reshape(h, w)


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
        self._patches: list[tuple[BBox, np.ndarray, Values, int | None]] = []

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

    def record(self, bbox: BBox, changed: np.ndarray, old: Values, new: int | None = None) -> None:
        """Note pixels about to change: ``changed`` (bool over bbox), their old values
        and, if known, the single value they are about to get."""
        if self._open is None:
            raise ValueError("history.record() called outside begin()/end()")
        self._patches.append((bbox, changed, old, new))

    def end(self, mask: np.ndarray) -> Change | None:
        """Close the open step; ``mask`` is the current (already edited) mask."""
        if self._open is None:
            raise ValueError("history.end() called without begin()")
        label, patches = self._open, self._patches
        self._open, self._patches = None, []
        if not patches:
            return None
        if len(patches) == 1:
            bbox, changed, old, new = patches[0]
            if new is None:
                new = _compact(mask[bbox_slices(bbox)][changed])
        else:
            bbox = None
            for b, _, _, _ in patches:
                bbox = bbox_union(bbox, b)
            cur = mask[bbox_slices(bbox)]
            before = cur.copy()
            changed = np.zeros(cur.shape, dtype=bool)
            for b, ch, ov, _ in reversed(patches):  # earliest old value wins
                sl = (slice(b[0] - bbox[0], b[2] - bbox[0]), slice(b[1] - bbox[1], b[3] - bbox[1]))
                before[sl][ch] = ov
                changed[sl] |= ch
            changed &= before != cur
            if not changed.any():
                return None
            old = _compact(before[changed])
            new = _compact(cur[changed])
        if isinstance(old, np.ndarray):
            old = old.copy()
        step = Step(label, bbox, np.packbits(changed), old, new, next(self._ids), self.state_id)
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
    def _apply(self, mask: np.ndarray, step: Step, values: Values) -> Change:
        changed = step.changed()
        mask[bbox_slices(step.bbox)][changed] = values
        return Change(step.bbox, changed, values if isinstance(values, int) else None)

    def undo(self, mask: np.ndarray) -> Change | None:
        if self._open is not None:
            raise ValueError("cannot undo while a step is being recorded")
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        self.state_id = step.prev_id
        return self._apply(mask, step, step.old)

    def redo(self, mask: np.ndarray) -> Change | None:
        if self._open is not None:
            raise ValueError("cannot redo while a step is being recorded")
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        self.state_id = step.id
        return self._apply(mask, step, step.new)


__all__ = ["Change", "History", "Step", "DEFAULT_BUDGET", "bbox_area"]

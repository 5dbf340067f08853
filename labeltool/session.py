"""What the main window does with a project, without Qt: navigation order, statuses, save and accept rules.

Kept free of widgets so the rules can be tested headless. Rules:
- A saved edit is a person's work, so it is saved with status "corrected" (proposals never overwrite it).
- Accept records the pixels on screen: a proposal (edited or not) is saved as it is shown, with status
  "corrected"; an untouched corrected mask is left as it is; an image with no mask has nothing to accept.
- Next / Previous / N / Enter walk the images in the chosen order ("uncertain": least certain first,
  "name", "status"), restricted to what the list shows (its status filter and name search).
- Uncertainty of a proposal: its mean per-pixel entropy when the record has one, else 1 - margin, else
  1 - mean confidence; one measure for the whole project (the first one every scored record has).
- Pixels to check: the proposal's unsure fraction times the image's pixel count (the image's own size when
  known, else the size of the project's first image: video frames share a size).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.project import Project

ORDERS = {"uncertain": "Least certain first", "name": "By name", "status": "By status"}
FILTERS = {"all": "All", "none": "No mask", "proposed": "Proposed", "corrected": "Corrected", "unknown": "Unknown"}
STATUS_RANK = {"unknown": 0, "proposed": 1, "none": 2, "corrected": 3}  # "status" order: to review first
MEASURES = ("entropy", "margin", "mean_confidence")


@dataclass
class Loaded:
    name: str
    image: np.ndarray
    mask: np.ndarray | None
    status: str


def uncertainty_measure(records) -> str | None:
    """The measure used to order a project: the first of MEASURES that every scored record has."""
    scored = [r for r in records if any(getattr(r, m, None) is not None for m in MEASURES)]
    if not scored:
        return None
    for measure in MEASURES:
        if all(getattr(r, measure, None) is not None for r in scored):
            return measure
    return "mean_confidence"


def uncertainty(record, measure: str | None = None) -> float | None:
    """Higher = less certain; None when the record has no proposal summary."""
    if record is None:
        return None
    order = ([measure] if measure else []) + [m for m in MEASURES if m != measure]
    for m in order:
        value = getattr(record, m, None)
        if value is None:
            continue
        value = float(value)
        return value if m == "entropy" else 1.0 - value
    return None


def pixels_to_check(record, pixels: int | None) -> int | None:
    """Estimated pixels a person has to look at: unsure fraction x image pixels (None: unknown)."""
    fraction = getattr(record, "unsure_fraction", None) if record is not None else None
    if fraction is None or not pixels:
        return None
    return int(round(float(fraction) * pixels))


def accept_action(status: str, dirty: bool) -> str:
    """What Accept does: "save" the pixels on screen as corrected, "skip" (already a person's mask and
    untouched: nothing to write, go on), or "nothing" (no mask to accept)."""
    if dirty:
        return "save"
    if status == "corrected":
        return "skip"
    if status in ("proposed", "unknown"):
        return "save"
    return "nothing"


class Session:
    """The open project's rows: names in project order plus status, uncertainty and display order."""

    def __init__(self, project: Project, records: dict[str, Any] | None = None,
                 statuses: dict[str, str] | None = None, image_pixels: int | None = None):
        self.project = project
        self.names = project.names()
        self.row_of = {name: i for i, name in enumerate(self.names)}
        self.index = -1
        self.image_pixels = image_pixels  # typical pixel count (first image), for the pixels-to-check estimate
        self.pixels: dict[str, int] = {}  # exact pixel counts of images seen
        if statuses is None:
            statuses = {n: r.status for n, r in records.items()} if records is not None else project.statuses()
        self.records: dict[str, Any] = dict(records or {})
        self.statuses = [statuses.get(n, "none") for n in self.names]
        self.measure = uncertainty_measure(self.records.values())
        self.uncertainty = [uncertainty(self.records.get(n), self.measure) for n in self.names]
        self.counts = Counter(self.statuses)
        self._to_check = [self._estimate(i) for i in range(len(self.names))]
        self.total_to_check = sum(v for v in self._to_check if v)
        self.order_mode = "uncertain" if self.has_uncertainty() else "name"
        self.status_filter = "all"
        self.search = ""
        self.order: list[int] = []
        self.position: list[int] = []
        self.sort()

    # ---- rows ----------------------------------------------------------------------------------
    @property
    def current(self) -> str | None:
        return self.names[self.index] if 0 <= self.index < len(self.names) else None

    def status(self, name: str) -> str:
        return self.statuses[self.row_of[name]]

    def has_uncertainty(self) -> bool:
        return any(u is not None for u in self.uncertainty)

    def to_check(self, index: int) -> int | None:
        return self._to_check[index]

    def _estimate(self, index: int) -> int | None:
        if self.statuses[index] == "corrected":
            return None
        name = self.names[index]
        return pixels_to_check(self.records.get(name), self.pixels.get(name, self.image_pixels))

    def _set_estimate(self, index: int) -> None:
        old = self._to_check[index] or 0
        self._to_check[index] = self._estimate(index)
        self.total_to_check += (self._to_check[index] or 0) - old

    def set_pixels(self, name: str, pixels: int) -> None:
        """The exact size of an image once it has been decoded."""
        if name in self.row_of and self.pixels.get(name) != pixels:
            self.pixels[name] = pixels
            self._set_estimate(self.row_of[name])

    def update(self, name: str, status: str, record: Any = None) -> int | None:
        """A record changed (a save, a proposal, another process); returns the project index or None.
        The display order is kept (rows do not jump under the user); call sort() to re-order."""
        index = self.row_of.get(name)
        if index is None:
            return None
        old = self.statuses[index]
        if old != status:
            self.counts[old] -= 1
            self.counts[status] += 1
            self.statuses[index] = status
        if record is not None:
            self.records[name] = record
            self.uncertainty[index] = uncertainty(record, self.measure)
            if self.measure is None and self.uncertainty[index] is not None:
                self.measure = uncertainty_measure([record])
        self._set_estimate(index)
        return index

    def add(self, names: list[str], statuses: dict[str, str] | None = None) -> list[int]:
        """Images that appeared in the folder: appended at the end of the display order."""
        added = []
        for name in names:
            if name in self.row_of:
                continue
            index = len(self.names)
            self.names.append(name)
            self.row_of[name] = index
            status = (statuses or {}).get(name, "none")
            self.statuses.append(status)
            self.counts[status] += 1
            self.uncertainty.append(None)
            self._to_check.append(None)
            self.position.append(len(self.order))
            self.order.append(index)
            added.append(index)
        return added

    # ---- order and filter ----------------------------------------------------------------------
    def sort(self, mode: str | None = None) -> None:
        if mode is not None:
            if mode not in ORDERS:
                raise ValueError(f"unknown order {mode!r}; expected one of {tuple(ORDERS)}")
            self.order_mode = mode
        count = len(self.names)
        if self.order_mode == "name":
            order = sorted(range(count), key=lambda i: self.names[i])
        elif self.order_mode == "uncertain":
            def key(i):
                done = self.statuses[i] == "corrected"
                u = self.uncertainty[i]
                return (2 if done else (0 if u is not None else 1), -(u or 0.0), self.names[i])
            order = sorted(range(count), key=key)
        else:
            order = sorted(range(count), key=lambda i: (STATUS_RANK.get(self.statuses[i], 9),
                                                        -(self.uncertainty[i] or 0.0), self.names[i]))
        self.order = order
        self.position = [0] * count
        for pos, i in enumerate(order):
            self.position[i] = pos

    def set_filter(self, status: str | None = None, search: str | None = None) -> None:
        if status is not None:
            if status not in FILTERS:
                raise ValueError(f"unknown status filter {status!r}; expected one of {tuple(FILTERS)}")
            self.status_filter = status
        if search is not None:
            self.search = search.strip().lower()

    def passes(self, index: int) -> bool:
        if self.status_filter != "all" and self.statuses[index] != self.status_filter:
            return False
        return not self.search or self.search in self.names[index].lower()

    def shown(self) -> list[int]:
        """Project indices as the list shows them, top to bottom."""
        return [i for i in self.order if self.passes(i)]

    # ---- navigation ----------------------------------------------------------------------------
    def step(self, delta: int) -> int | None:
        """The image ``delta`` places away in the list as shown, or None past either end."""
        if not self.order:
            return None
        pos = self.position[self.index] if self.index >= 0 else -1
        direction = 1 if delta > 0 else -1
        remaining = abs(delta)
        while True:
            pos += direction
            if not 0 <= pos < len(self.order):
                return None
            if self.passes(self.order[pos]):
                remaining -= 1
                if remaining == 0:
                    return self.order[pos]

    def next_not_corrected(self) -> int | None:
        """The next image (wrapping around) in the list as shown that has no corrected mask."""
        count = len(self.order)
        start = self.position[self.index] if self.index >= 0 else -1
        for offset in range(1, count + 1):
            index = self.order[(start + offset) % count]
            if self.statuses[index] != "corrected" and self.passes(index) and index != self.index:
                return index
        return None

    # ---- headless load/save (scripts and tests; the window goes through labeltool.gui.io_threads) ----
    def load(self, index: int) -> Loaded:
        from model.imageio import read_image

        name = self.names[index]
        image = read_image(self.project.image_path(name))
        mask = self.project.load_mask(name)
        self.index = index
        return Loaded(name, image, mask, self.project.status(name))

    def save(self, mask: np.ndarray) -> None:
        name = self.current
        if name is None:
            raise ValueError("no image is open")
        self.project.save_mask(name, mask, "corrected")
        self.update(name, "corrected")

    def accept(self, mask: np.ndarray | None, dirty: bool) -> bool:
        """Record the mask on screen as corrected; returns False when there was nothing to accept."""
        name = self.current
        if name is None:
            return False
        action = accept_action(self.project.status(name), dirty and mask is not None)
        if action == "save":
            if mask is None:
                return False
            self.project.save_mask(name, mask, "corrected")
            self.update(name, "corrected")
        return action != "nothing"

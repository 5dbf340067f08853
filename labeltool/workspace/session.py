"""What the main window does with a project, without Qt: navigation order, statuses, save and accept rules.

Kept free of widgets so the rules can be tested headless. Rules (the statuses are model.project.STATUSES):
- A saved edit (autosave, switching image, closing, Ctrl+S) is a person's work NOT checked yet: it is saved
  as "edited" (proposals never overwrite it, it is never trained on, N / Enter still walk it).
- Only Accept (Enter) or "Mark corrected" makes "corrected", trained on (with "reviewed", a reviewer's
  approval: labeltool.workspace.review; a "rejected" mask is work to do again, N walks it). Accept records the
  pixels on screen: a proposal, an edited or an unknown mask (touched or not) is saved as it is shown, with
  status "corrected"; an untouched corrected mask is left as it is; an image with no mask has nothing to
  accept; pixels nobody painted (a project without a Void class) stop it (:func:`accept_refusal`).
- Next / Previous / N / Enter walk the images in the chosen order ("uncertain": least certain first,
  "name", "status"), restricted to what the list shows (its status filter and name search).
- Uncertainty of a proposal (model.project.confidence.uncertainty_score): its mean normalised entropy when the record
  has one, else 1 - margin, else 1 - mean confidence.
- "disputed" order: the checked masks a held-out model disputes most first (model.evaluation.audit), then the
  rest; a mask changed since its audit counts as not audited (the engine's ``current_disputes`` rule).
- Pixels to check: the proposal's unsure fraction times the image's pixel count (the image's own size when
  known, else the size of the project's first image: video frames share a size).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from labeltool.editing.unpainted import unpainted_problem
from model.project.audit_record import current_disputes
from model.project.project import Project

ORDERS = {"uncertain": "Least certain first", "name": "By name", "status": "By status",
          "disputed": "Most disputed first (audit)"}
FILTERS = {"all": "All", "none": "No mask", "proposed": "Proposed", "edited": "Edited (not checked)",
           "corrected": "Corrected", "reviewed": "Reviewed", "rejected": "Rejected (sent back)", "unknown": "Unknown",
           "mine": "Assigned to me"}
STATUS_RANK = {"rejected": 0, "unknown": 0, "edited": 1, "proposed": 2, "none": 3, "corrected": 4,
               "reviewed": 5}  # "status" order: what needs work first
DONE = ("corrected", "reviewed")  # checked masks N / Enter skip (a rejected one is work to do)
SAVE_STATUS = "edited"  # what autosave, switching, closing and Ctrl+S save: a person's work, not checked
ACCEPT_STATUS = "corrected"  # what Accept and Mark corrected make
MEASURES = ("entropy", "margin", "mean_confidence")  # uncertainty_score's order


@dataclass
class Loaded:
    name: str
    image: np.ndarray
    mask: np.ndarray | None
    status: str


def uncertainty(record) -> float | None:
    """Higher = less certain; None when the record has no proposal summary (the engine's rule:
    model.project.confidence.uncertainty_score)."""
    if record is None:
        return None
    from model.project.confidence import uncertainty_score

    return uncertainty_score(record)


def pixels_to_check(record, pixels: int | None) -> int | None:
    """Estimated pixels a person has to look at: unsure fraction x image pixels (None: unknown)."""
    fraction = getattr(record, "unsure_fraction", None) if record is not None else None
    if fraction is None or not pixels:
        return None
    return int(round(float(fraction) * pixels))


def accept_action(status: str, dirty: bool) -> str:
    """What Accept does: "save" the pixels on screen as corrected, "skip" (a corrected mask, untouched:
    nothing to write, go on), or "nothing" (no mask to accept). An untouched edited, proposed or unknown
    mask is saved as corrected as it is (checked now)."""
    if dirty:
        return "save"
    if status in ("corrected", "reviewed", "rejected"):  # a rejected mask needs an edit (or Mark corrected)
        return "skip"
    if status in ("proposed", "edited", "unknown"):
        return "save"
    return "nothing"


def accept_refusal(layer, codes) -> str | None:
    """Why Accept (or Mark corrected) must not make the mask on screen corrected, or None: pixels nobody
    painted remain (labeltool.editing.unpainted.unpainted_problem: they would be trained as class 0)."""
    if layer is None:
        return None
    return unpainted_problem(layer, codes)


STATUS_CODES = {"none": 0, "proposed": 1, "corrected": 2, "unknown": 3, "edited": 4, "reviewed": 5,
                "rejected": 6}  # in code order (sort() relies on it)
DONE_CODES = np.array([STATUS_CODES[s] for s in DONE], np.int8)


def _name_rank(names: list[str]) -> np.ndarray:
    """Each name's place in name order."""
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), np.int64)
    rank[order] = np.arange(len(names))
    return rank


class Session:
    """The open project's rows: names in project order plus status, uncertainty, display order and the
    rows the list shows (numpy arrays: ordering or filtering 100,000 images takes milliseconds)."""

    def __init__(self, project: Project, records: dict[str, Any] | None = None,
                 statuses: dict[str, str] | None = None, image_pixels: int | None = None):
        self.project = project
        self.names = list(project.names())
        self.row_of = {name: i for i, name in enumerate(self.names)}
        self._lower = [n.lower() for n in self.names]
        self.index = -1
        self.image_pixels = image_pixels  # typical pixel count (first image), for the pixels-to-check estimate
        self.pixels: dict[str, int] = {}  # exact pixel counts of images seen
        if statuses is None:
            statuses = {n: r.status for n, r in records.items()} if records is not None else project.statuses()
        self.records: dict[str, Any] = dict(records or {})
        self.statuses = [statuses.get(n, "none") for n in self.names]
        self.codes = np.array([STATUS_CODES.get(v, 0) for v in self.statuses], np.int8)
        self.counts = Counter(self.statuses)
        self._columns_from_records()
        self._name_rank = _name_rank(self.names)
        self.audit_rows: dict[str, dict[str, Any]] = {}
        self.disputed = np.full(len(self.names), np.nan)
        self.order_mode = "uncertain" if self.has_uncertainty() else "name"
        self.status_filter = "all"
        self.assigned = np.zeros(len(self.names), bool)  # "Assigned to me": labeltool assign's list for this person
        self.search = ""
        self.order = np.arange(len(self.names))
        self.position = np.arange(len(self.names))
        self.visible = self.order
        self.row_in_view = self.position
        self.sort()

    def _columns_from_records(self) -> None:
        """uncertainty and pixels-to-check for every image at once (vectorised: 100,000 records)."""
        recs = [self.records.get(n) for n in self.names]

        def column(attr: str) -> np.ndarray:
            return np.array([None if r is None else getattr(r, attr, None) for r in recs], np.float64)

        unc = np.full(len(recs), np.nan)
        for m in reversed(MEASURES):  # uncertainty_score's rule, vectorised: the first figure a record has wins
            value = column(m)
            unc = np.where(np.isfinite(value), value if m == "entropy" else 1.0 - value, unc)
        self.uncertainty = unc
        unsure = column("unsure_fraction")
        pixels = np.full(len(recs), float(self.image_pixels or 0))
        estimate = np.rint(unsure * pixels)
        ok = np.isfinite(estimate) & (pixels > 0) & ~np.isin(self.codes, DONE_CODES)
        self._to_check = np.where(ok, np.nan_to_num(estimate), -1).astype(np.int64)
        self.total_to_check = int(self._to_check[self._to_check > 0].sum())

    # ---- rows ----------------------------------------------------------------------------------
    @property
    def current(self) -> str | None:
        return self.names[self.index] if 0 <= self.index < len(self.names) else None

    def status(self, name: str) -> str:
        return self.statuses[self.row_of[name]]

    def has_uncertainty(self) -> bool:
        return bool(np.isfinite(self.uncertainty).any())

    def to_check(self, index: int) -> int | None:
        value = int(self._to_check[index])
        return None if value < 0 else value

    def _estimate(self, index: int) -> int:
        """-1: nothing to estimate."""
        if self.statuses[index] in DONE:
            return -1
        name = self.names[index]
        value = pixels_to_check(self.records.get(name), self.pixels.get(name, self.image_pixels))
        return -1 if value is None else value

    def _set_estimate(self, index: int) -> None:
        old = max(int(self._to_check[index]), 0)
        self._to_check[index] = self._estimate(index)
        self.total_to_check += max(int(self._to_check[index]), 0) - old

    def set_pixels(self, name: str, pixels: int) -> None:
        """The exact size of an image once it has been decoded."""
        if name in self.row_of and self.pixels.get(name) != pixels:
            self.pixels[name] = pixels
            self._set_estimate(self.row_of[name])

    def update(self, name: str, status: str, record: Any = None) -> int | None:
        """A record changed (a save, a proposal, another process); returns the project index or None.
        The order and the rows shown are kept (rows do not jump or vanish under the user); sort() and
        refilter() lay them out again."""
        index = self.row_of.get(name)
        if index is None:
            return None
        old = self.statuses[index]
        if old != status:
            self.counts[old] -= 1
            self.counts[status] += 1
            self.statuses[index] = status
            self.codes[index] = STATUS_CODES.get(status, 0)
        if record is not None:
            self.records[name] = record
            value = uncertainty(record)
            self.uncertainty[index] = np.nan if value is None else value
        if name in self.audit_rows:
            self.disputed[index] = current_disputes({name: self.audit_rows[name]}, self.records).get(name, np.nan)
        self._set_estimate(index)
        return index

    def set_audit(self, rows: dict[str, dict[str, Any]]) -> None:
        """The audit's rows (``model.evaluation.audit.read_audit``): the disputed pixels of each mask still as
        audited; the order is laid out again when it is "disputed"."""
        self.audit_rows = dict(rows)
        self.disputed = np.full(len(self.names), np.nan)
        for name, count in current_disputes(self.audit_rows, self.records).items():
            if name in self.row_of:
                self.disputed[self.row_of[name]] = count
        if self.order_mode == "disputed":
            self.sort()

    def disputes(self, name: str) -> int | None:
        """The disputed pixels of ``name``'s mask as audited, or None (not audited, or changed since)."""
        value = self.disputed[self.row_of[name]] if name in self.row_of else np.nan
        return None if np.isnan(value) else int(value)

    def add(self, names: list[str], statuses: dict[str, str] | None = None) -> list[int]:
        """Images that appeared in the folder: appended at the end of the order (and of the rows shown
        when they pass the filter)."""
        new = [n for n in dict.fromkeys(names) if n not in self.row_of]
        if not new:
            return []
        first = len(self.names)
        added = list(range(first, first + len(new)))
        for name in new:
            self.row_of[name] = len(self.names)
            self.names.append(name)
            self._lower.append(name.lower())
            status = (statuses or {}).get(name, "none")
            self.statuses.append(status)
            self.counts[status] += 1
        self.codes = np.concatenate([self.codes, [STATUS_CODES.get(self.statuses[i], 0) for i in added]]).astype(np.int8)
        self.uncertainty = np.concatenate([self.uncertainty, np.full(len(new), np.nan)])
        self.disputed = np.concatenate([self.disputed, np.full(len(new), np.nan)])
        self.assigned = np.concatenate([self.assigned, np.zeros(len(new), bool)])
        self._to_check = np.concatenate([self._to_check, np.full(len(new), -1, np.int64)])
        self._name_rank = _name_rank(self.names)
        self.order = np.concatenate([self.order, added])
        self.position = np.concatenate([self.position, np.arange(first, first + len(new))])
        shown = [i for i in added if self.passes(i)]
        self.row_in_view = np.concatenate([self.row_in_view, np.full(len(new), -1)])
        if shown:
            self.row_in_view[shown] = np.arange(len(self.visible), len(self.visible) + len(shown))
            self.visible = np.concatenate([self.visible, shown])
        return added

    # ---- order and filter ----------------------------------------------------------------------
    def sort(self, mode: str | None = None) -> None:
        """Order every image by ``mode`` (default: the current one), then recompute the rows shown."""
        if mode is not None:
            if mode not in ORDERS:
                raise ValueError(f"unknown order {mode!r}; expected one of {tuple(ORDERS)}")
            self.order_mode = mode
        unc = np.nan_to_num(self.uncertainty, nan=0.0)
        if self.order_mode == "name":
            order = np.argsort(self._name_rank, kind="stable")
        elif self.order_mode == "disputed":
            audited = np.isfinite(self.disputed)
            order = np.lexsort((self._name_rank, -np.nan_to_num(self.disputed, nan=0.0), ~audited))
        elif self.order_mode == "uncertain":
            done = np.isin(self.codes, DONE_CODES)
            group = np.where(done, 2, np.where(np.isfinite(self.uncertainty), 0, 1))
            order = np.lexsort((self._name_rank, -unc, group))
        else:
            rank = np.array([STATUS_RANK[s] for s in STATUS_CODES], np.int8)[self.codes]
            order = np.lexsort((self._name_rank, -unc, rank))
        self.order = order
        self.position = np.empty(len(order), np.int64)
        self.position[order] = np.arange(len(order))
        self.refilter()

    def set_filter(self, status: str | None = None, search: str | None = None) -> None:
        if status is not None:
            if status not in FILTERS:
                raise ValueError(f"unknown status filter {status!r}; expected one of {tuple(FILTERS)}")
            self.status_filter = status
        if search is not None:
            self.search = search.strip().lower()
        self.refilter()

    def set_assigned(self, names: list[str] | None) -> None:
        """The images assigned to the person at the keyboard (``model.project.assignment.assigned_to``)."""
        self.assigned = np.zeros(len(self.names), bool)
        for name in names or ():
            if name in self.row_of:
                self.assigned[self.row_of[name]] = True

    def _status_passes(self, index: int | None, status: str) -> bool:
        if self.status_filter == "mine":
            return index is not None and bool(self.assigned[index])
        return self.status_filter == "all" or status == self.status_filter

    def _passing(self) -> np.ndarray:
        ok = np.ones(len(self.names), bool)
        if self.status_filter == "mine":
            ok &= self.assigned
        elif self.status_filter != "all":
            ok &= self.codes == STATUS_CODES[self.status_filter]
        if self.search:
            needle = self.search
            ok &= np.fromiter((needle in n for n in self._lower), bool, len(self._lower))
        return ok

    def refilter(self) -> None:
        """Recompute the rows shown (order + status filter + search)."""
        ok = self._passing()
        self.visible = self.order[ok[self.order]]
        self.row_in_view = np.full(len(self.names), -1, np.int64)
        self.row_in_view[self.visible] = np.arange(len(self.visible))

    def would_show(self, name: str, status: str) -> bool:
        """Whether an image with this name and status passes the filter and search."""
        if not self._status_passes(self.row_of.get(name), status):
            return False
        return not self.search or self.search in name.lower()

    def passes(self, index: int) -> bool:
        if not self._status_passes(index, self.statuses[index]):
            return False
        return not self.search or self.search in self._lower[index]

    def shown(self) -> list[int]:
        """Project indices as the list shows them, top to bottom."""
        return [int(i) for i in self.visible]

    # ---- navigation ----------------------------------------------------------------------------
    def _walkable(self) -> np.ndarray:
        """Indices Next may go to, in order: those passing the filter now (statuses may have changed
        since the list was laid out)."""
        ok = self._passing()
        return self.order[ok[self.order]]

    def step(self, delta: int) -> int | None:
        """The image ``delta`` places away in the list as shown, or None past either end."""
        walk = self._walkable()
        if not len(walk) or delta == 0:
            return None
        positions = self.position[walk]
        pos = int(self.position[self.index]) if self.index >= 0 else -1
        if delta > 0:
            k = int(np.searchsorted(positions, pos, side="right")) + delta - 1
        else:
            k = int(np.searchsorted(positions, pos, side="left")) + delta
        return int(walk[k]) if 0 <= k < len(walk) else None

    def next_not_corrected(self) -> int | None:
        """The next image (wrapping around) in the list as shown that has no corrected (or reviewed) mask:
        a rejected mask is work to do."""
        walk = self._walkable()
        walk = walk[~np.isin(self.codes[walk], DONE_CODES) & (walk != self.index)]
        if not len(walk):
            return None
        pos = int(self.position[self.index]) if self.index >= 0 else -1
        k = int(np.searchsorted(self.position[walk], pos, side="right"))
        return int(walk[k % len(walk)])

    # ---- headless load/save (scripts and tests; the window goes through labeltool.workspace.writer) ----
    def load(self, index: int) -> Loaded:
        from model.images.imageio import read_image

        name = self.names[index]
        image = read_image(self.project.image_path(name))
        mask = self.project.load_mask(name)
        self.index = index
        return Loaded(name, image, mask, self.project.status(name))

    def save(self, mask: np.ndarray) -> None:
        name = self.current
        if name is None:
            raise ValueError("no image is open")
        self.project.save_mask(name, mask, SAVE_STATUS)
        self.update(name, SAVE_STATUS)

    def accept(self, mask: np.ndarray | None, dirty: bool) -> bool:
        """Record the mask on screen as corrected; returns False when there was nothing to accept."""
        name = self.current
        if name is None:
            return False
        action = accept_action(self.project.status(name), dirty and mask is not None)
        if action == "save":
            if mask is None:
                return False
            self.project.save_mask(name, mask, ACCEPT_STATUS)
            self.update(name, ACCEPT_STATUS)
        return action != "nothing"

"""Merging another copy of a dataset into this one (``labeltool merge THEIRS OURS``), image by image.

THEIRS (an annotator's laptop, a second share) is only read, never changed (its record is read with
:func:`model.project.readonly_db.read_statuses`). Per image, what the mask files say decides
(:func:`outcome`):

- no mask on one side: the mask that exists (``take`` from theirs, or ``keep`` ours);
- the same decoded pixels: ``same`` (nothing to do), unless their stamp ranks higher (theirs is taken:
  a person's check of a proposal, a review);
- different pixels: the higher rank wins (:data:`RANK`: a proposal < edited (and unknown) < rejected <
  corrected < reviewed; a person's work beats a proposal, a rejected mask loses to a corrected or
  reviewed one); two proposals keep ours; two masks of one rank made by people (or of unknown origin)
  are a ``conflict``: ours stays, theirs is kept in ``.labeltool/conflicts/`` and listed in
  ``.labeltool/conflicts.json`` (:mod:`model.project.merge_conflicts` resolves them);
- an image only THEIRS has: ``new`` (its image and mask are copied in).

Everything happens under OURS's write lock. A copied mask keeps its bytes (its stamp is its proof); a
mask of ours that theirs replaces is moved into ``.labeltool/removed/`` first; the record is then
brought in line from the files (``Project.status``, ``Project.rescan``).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_bytes
from model.errors import CodesError, DatasetError
from model.images.imageio import MASK_SUFFIX

from . import layout
from .codes import codes_tag, read_codes, tag_fits
from .kept import move_aside
from .provenance import Provenance, decode_classes, read_provenance
from .readonly_db import read_statuses
from .status import STATE_DIR

# Rank of a mask when two copies disagree; two different masks of one rank from PERSON_RANK up conflict.
RANK = {"none": 0, "proposed": 1, "unknown": 2, "edited": 2, "rejected": 3, "corrected": 4, "reviewed": 5}
PERSON_RANK = 2  # from here up: a person's work (or a mask nobody can vouch for): never silently dropped
RESOLVED_FILE = "resolved.json"  # in OURS's state folder: the conflicts people resolved (merge_apply writes it)
OUTCOMES = ("take", "keep", "same", "conflict", "new", "skip")
OUTCOME_TITLES = {"take": "taken from theirs", "keep": "kept ours", "same": "identical",
                  "conflict": "conflicts", "new": "new images", "skip": "skipped"}


@dataclass
class Side:
    """One copy's mask of an image: its status, who made it and when, its decoded pixel hash."""

    status: str
    by: str | None = None
    at: str | None = None
    pixels: str | None = None

    @classmethod
    def read(cls, path: Path, status: str, need_pixels: bool = True) -> Side:
        """``status``: the copy's own verdict (its record and files, by the one status rule, reviews included)."""
        if status == "none":
            return cls("none")
        try:
            prov = read_provenance(path, need_pixels=need_pixels)
        except FileNotFoundError:
            return cls("none")
        return cls(status, *_who(prov), prov.pixels)


def _who(prov: Provenance) -> tuple[str | None, str | None]:
    info = prov.info or {}
    by = info.get("by") if info.get("source") == "person" else info.get("model")
    return (str(by) if by is not None else None), (str(info["at"]) if info.get("at") is not None else None)


@dataclass
class Item:
    """What the merge does with one image."""

    name: str
    outcome: str  # one of OUTCOMES
    reason: str
    ours: Side = field(default_factory=lambda: Side("none"))
    theirs: Side = field(default_factory=lambda: Side("none"))

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MergePlan:
    theirs: Path
    ours: Path
    items: list[Item]
    warnings: list[str] = field(default_factory=list)
    new_files: dict[str, Path] = field(default_factory=dict)  # image files of the new images, in THEIRS

    def by_outcome(self, outcome: str) -> list[Item]:
        return [item for item in self.items if item.outcome == outcome]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for item in self.items:
            counts[item.outcome] += 1
        return counts

    def public(self) -> dict[str, Any]:
        return {"theirs": str(self.theirs), "ours": str(self.ours), "counts": self.counts(),
                "images": [item.public() for item in self.items], "warnings": self.warnings}


def outcome(ours: Side, theirs: Side, same_pixels: bool) -> tuple[str, str]:
    """THE merge rule for one image: (outcome, reason) given both sides and whether their decoded pixels
    are the same."""
    if theirs.status == "none":
        return ("keep", "only ours has a mask") if ours.status != "none" else ("same", "no mask on either side")
    if ours.status == "none":
        return "take", "only theirs has a mask"
    r_ours, r_theirs = RANK.get(ours.status, PERSON_RANK), RANK.get(theirs.status, PERSON_RANK)
    if same_pixels:
        if r_theirs > r_ours:
            return "take", f"same pixels; theirs is {theirs.status}, ours {ours.status}"
        return "same", "same pixels"
    if r_theirs > r_ours:
        return "take", f"theirs is {theirs.status}, ours {ours.status}"
    if r_ours > r_theirs:
        return "keep", f"ours is {ours.status}, theirs {theirs.status}"
    if r_ours < PERSON_RANK:
        return "keep", "two proposals: ours stays"
    return "conflict", f"both {ours.status}" if ours.status == theirs.status else \
        f"ours {ours.status}, theirs {theirs.status}"


def check_codes(theirs: Path, ours: Path) -> list[str]:
    """The classes both copies label. THEIRS's list may be OURS's with fewer classes at the end (ours added
    some since the copy was made: every number of theirs means the same class here, the rule of
    ``codes.tag_fits``); otherwise CodesError naming both codes.txt files, and what to do."""
    mine, other = read_codes(ours / "codes.txt"), read_codes(theirs / "codes.txt")
    if tag_fits(codes_tag(other), mine):
        return mine
    diff = next((i for i, (a, b) in enumerate(zip(mine, other, strict=False)) if a != b), min(len(mine), len(other)))
    if other[:len(mine)] == mine:
        hint = (f"theirs has classes this copy lacks ({', '.join(other[len(mine):])}); add them at the end here "
                f"first (labeltool classes {ours} add NAME), then merge")
    elif sorted(mine) == sorted(other):
        hint = (f"the same classes in another order: reorder one copy first (labeltool classes {ours} reorder "
                f"{' '.join(other)})")
    else:
        hint = "a mask's class numbers would mean other classes"
    raise CodesError(theirs / "codes.txt", f"its classes differ from {ours / 'codes.txt'} (first at line "
                                           f"{diff + 1}: {other[diff] if diff < len(other) else 'nothing'!r} "
                                           f"vs {mine[diff] if diff < len(mine) else 'nothing'!r}); {hint}; "
                                           "nothing was merged")


def scan(root: Path) -> layout.ImageScan:
    folder = layout.images_dir(root)
    return layout.scan_images(folder, flat=folder == root)


def plan_merge(theirs: str | Path, ours: str | Path, ours_statuses: dict[str, str] | None = None,
               ours_images: layout.ImageMap | None = None) -> MergePlan:
    """What merging THEIRS into OURS would do, image by image; reads both, writes nothing (OURS's
    statuses come from ``ours_statuses`` when given: the open project's, under its write lock)."""
    theirs, ours = Path(theirs).expanduser().resolve(), Path(ours).expanduser().resolve()
    for root in (theirs, ours):
        if not root.is_dir():
            raise DatasetError(root, "no such folder")
    if theirs == ours:
        raise DatasetError(theirs, "is the dataset itself; give the other copy to merge from")
    check_codes(theirs, ours)
    their_scan = scan(theirs)
    warnings = [str(p) for p in their_scan.problems]
    their_images = their_scan.images
    if ours_images is None:
        ours_images = scan(ours).images
    their_statuses, _ = read_statuses(theirs, their_images)
    if ours_statuses is None:
        ours_statuses, _ = read_statuses(ours, ours_images)
    items, new_files = [], {}
    for name in their_images:
        their_label = layout.label_path(theirs, name)
        if name not in ours_images:
            target = layout.images_dir(ours) / their_images[name].name
            if target.exists() or target.is_symlink():
                items.append(Item(name, "skip", f"{target} is there but is not an image of this dataset"))
                continue
            side = Side.read(their_label, their_statuses[name], need_pixels=False)
            items.append(Item(name, "new", "an image only theirs has", theirs=side))
            new_files[name] = their_images[name]
            continue
        if their_statuses[name] == "none" and ours_statuses.get(name, "none") == "none":
            continue
        items.append(_compare(name, their_images[name], ours_images[name], their_label,
                              layout.label_path(ours, name), their_statuses[name], ours_statuses.get(name, "none")))
    already_resolved(ours / STATE_DIR, items)
    for label in sorted(layout.scan_labels(theirs)):
        if label not in their_images:
            warnings.append(f"{layout.label_path(theirs, label)}: a mask without an image; not merged")
    return MergePlan(theirs, ours, items, warnings, new_files)


def _compare(name: str, their_image: Path, our_image: Path, their_label: Path, our_label: Path,
             their_status: str, our_status: str) -> Item:
    try:
        sizes = their_image.stat().st_size, our_image.stat().st_size
    except OSError as exc:
        return Item(name, "skip", f"cannot read the image ({exc.strerror or exc})")
    if sizes[0] != sizes[1]:
        return Item(name, "skip", f"the image files differ ({their_image}: {sizes[0]} bytes, {our_image}: "
                                  f"{sizes[1]} bytes): not the same image, its masks are not compared")
    if our_status != "none" and their_status != "none":  # the usual case, a file both copies have: no decode
        with contextlib.suppress(OSError):
            if their_label.read_bytes() == our_label.read_bytes():
                return Item(name, "same", "the same file", Side(our_status), Side(their_status))
    try:
        ours, theirs = Side.read(our_label, our_status), Side.read(their_label, their_status)
    except OSError as exc:
        return Item(name, "skip", f"a mask cannot be read ({exc.strerror or exc})")
    same = ours.pixels is not None and ours.pixels == theirs.pixels
    result, reason = outcome(ours, theirs, same)
    return Item(name, result, reason, ours, theirs)


def read_resolved(state_dir: Path) -> dict[str, dict[str, Any]]:
    """name -> the conflict a person resolved: their mask's and the kept mask's pixel hashes, when."""
    with contextlib.suppress(FileNotFoundError, OSError, ValueError):
        data = json.loads((state_dir / RESOLVED_FILE).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return {n: e for n, e in data.items() if isinstance(e, dict)}
    return {}


def already_resolved(state_dir: Path, items: list[Item]) -> None:
    """A conflict a person resolved before, between the same two masks (theirs unchanged, ours the mask the
    resolution kept), is not a conflict again: ours stays."""
    remembered = read_resolved(state_dir)
    for item in items:
        entry = remembered.get(item.name)
        if (item.outcome == "conflict" and entry and item.theirs is not None and item.ours is not None
                and entry.get("theirs") == item.theirs.pixels and entry.get("kept") == item.ours.pixels):
            item.outcome, item.reason = "keep", f"resolved before ({entry.get('at')}): ours was kept"


def differing_pixels(ours: bytes, theirs: bytes) -> int | None:
    """How many pixels two mask files label differently (None when either cannot be decoded or their
    sizes differ)."""
    a, b = decode_classes(ours), decode_classes(theirs)
    if a is None or b is None or a.shape != b.shape:
        return None
    return int((a != b).sum())


def copy_mask(state_dir: Path, name: str, source: Path, target: Path) -> None:
    """Put THEIRS's mask file at ``target`` byte for byte; ours is moved into ``.labeltool/removed/`` first."""
    data = source.read_bytes()
    move_aside(state_dir, name, target)
    atomic_write_bytes(target, data)


def copy_confidence(theirs: Path, ours_state: Path, name: str) -> None:
    """The proposal's confidence map goes with it; a stale one of ours goes (it is derived, not work)."""
    source = theirs / STATE_DIR / "confidence" / f"{name}.png"
    target = ours_state / "confidence" / f"{name}.png"
    try:
        atomic_write_bytes(target, source.read_bytes())
    except FileNotFoundError:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()


def label_name(name: str) -> str:
    return f"{name}{MASK_SUFFIX}"

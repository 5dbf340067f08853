"""Masks nobody checked, in and out of labeltool: the one rule exports and imports ask.

Only a *corrected* mask is ground truth (the status contract: ``proposed``, ``edited`` and ``unknown``
masks were never checked by a person, so they are never trained on). An export therefore writes only
corrected masks unless asked to include the unchecked ones (``--include-proposals``), and then it marks
them: ``unchecked.list`` (one image name per line, no suffix; not ``.txt``, which CVAT's CamVid reader
would take for a subset list) at the export's root (fastai, CVAT CamVid) or beside ``labelmap.txt``
(VOC), and ``"unchecked": true`` on the COCO image entry (with ``attributes.unchecked`` on its
annotations, which CVAT shows). ``labeltool import`` honours the mark: those masks come in as
proposals (``Project.save_mask(name, mask, "proposed", model="imported: <source>")``), never as
corrections; so does a native dataset's own provenance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from model.atomic import atomic_write_text
from model.errors import DatasetError
from model.project.layout import UNCHECKED_FILE, read_list
from model.project.status import TRAINED

from .staging import check_name

CHECKED = TRAINED  # corrected and reviewed: a person checked it and no reviewer rejected it


def is_checked(status: str) -> bool:
    """True only for a corrected or reviewed mask; anything else (proposed, edited, rejected, unknown,
    none) is unchecked."""
    return status in CHECKED


def imported_model(src: Path) -> str:
    """The model name an imported unchecked mask's proposal stamp carries."""
    return f"imported: {Path(src).name}"


@dataclass
class Selection:
    """What an export writes: ``names`` in dataset order, which of them carry an unchecked mask, and how
    many images were left out, by status."""

    names: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict:
        return {"skipped": sum(self.left_out.values()), "left_out": dict(self.left_out),
                "unchecked": len(self.unchecked)}


def select(statuses: dict[str, str], names: Iterable[str], labelled: set[str] | dict, include_proposals: bool,
           labelled_only: bool) -> Selection:
    """The images an export writes: those with a corrected mask; with ``include_proposals`` also those
    with an unchecked mask (listed in ``unchecked``) and, unless ``labelled_only``, those with no mask."""
    chosen = Selection()
    for name in names:
        status = statuses.get(name, "none")
        has_mask = name in labelled
        if has_mask and is_checked(status):
            chosen.names.append(name)
        elif include_proposals and (has_mask or not labelled_only):
            chosen.names.append(name)
            if has_mask:
                chosen.unchecked.append(name)
        else:
            key = status if has_mask else "none"
            chosen.left_out[key] = chosen.left_out.get(key, 0) + 1
    return chosen


def left_out_text(left_out: dict[str, int]) -> str:
    """``2 proposed, 1 edited, 3 without a mask``: why images were left out, by status."""
    parts = [f"{count} {'without a mask' if status == 'none' else status}"
             for status, count in sorted(left_out.items(), key=lambda kv: (kv[0] == "none", kv[0]))]
    return ", ".join(parts)


def require_some(chosen: Selection, root: Path, include_proposals: bool) -> None:
    """A DatasetError saying why when the selection is empty."""
    if chosen.names:
        return
    why = left_out_text(chosen.left_out) or "no images"
    hint = "" if include_proposals else "; only corrected masks are exported unless --include-proposals is given"
    raise DatasetError(root, f"nothing to export: no image has a {'mask' if include_proposals else 'corrected mask'} "
                             f"({why}){hint}")


def write_unchecked(folder: Path, names: list[str]) -> None:
    """``unchecked.list`` in ``folder`` when any exported mask is unchecked (nothing otherwise)."""
    if names:
        atomic_write_text(folder / UNCHECKED_FILE, "".join(f"{name}\n" for name in names))


def read_unchecked(folder: Path, known: Iterable[str]) -> set[str]:
    """The names in ``folder/unchecked.list`` (empty when there is none). A line naming no image of the
    source stops the import, naming the file and line: a mark that matches nothing would let an
    unchecked mask in as a correction."""
    path = folder / UNCHECKED_FILE
    if not path.exists() and not path.is_symlink():
        return set()
    known = set(known)
    found = set()
    for line, fields in read_list(path):
        entry = " ".join(fields)
        name = check_name(entry.rsplit(".", 1)[0] if entry not in known else entry, path)
        if name not in known:
            raise DatasetError(path, f"line {line}: {entry} is not an image of this dataset; the unchecked masks "
                                     "must be known exactly, so nothing was imported")
        found.add(name)
    return found


def mark_proposals(items, names: set[str], src: Path) -> int:
    """Make the items named (with a mask) come in as proposals; how many."""
    model = imported_model(src)
    count = 0
    for item in items:
        if item.name in names and item.mask is not None:
            item.proposal_from = model
            count += 1
    return count

"""Edit ▸ Change classes… without Qt: which :class:`~model.project.classes.Change` the dialog's state asks
for (the rules of each operation are model.project.classes' ``plan_*``: one rule in one place), how many
masks and pixels each class has, and the dry run and the change itself, run on a worker thread.

The change is made by a Project opened for it (as ``labeltool classes`` would), not by the window's: the
window's Project keeps the old list, so any save it still tries with the old class numbers is refused by
the engine (``same_codes``) until the window opens the dataset again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.errors import CodesError
from model.project import classes as ops

OPERATIONS = ("rename", "add", "merge", "reorder", "split")


def split_names(text: str) -> list[str]:
    """The names typed for a split (or a merge target): separated by commas; spaces inside a name stay."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _one(selected: list[str], op: str) -> str:
    if len(selected) != 1:
        raise CodesError("codes.txt", f"{op}: select exactly one class in the list")
    return selected[0]


def plan_change(codes: list[str], op: str, selected: list[str], text: str = "", order: list[str] | None = None,
                colour: tuple[int, int, int] | None = None) -> ops.Change:
    """The Change the dialog asks for: ``selected`` the classes picked in the list, ``text`` what was typed
    (rename: the new name; add: the name; merge: the target; split: the new names, comma-separated),
    ``order`` the list as it is now shown (reorder). CodesError (from the plan_* rules) when it cannot be."""
    codes = list(codes)
    if op == "rename":
        return ops.plan_rename(codes, _one(selected, op), text)
    if op == "add":
        return ops.plan_add(codes, text, colour)
    if op == "merge":
        if not selected:
            raise CodesError("codes.txt", "merge: select the classes to merge in the list")
        return ops.plan_merge(codes, selected, text.strip())
    if op == "reorder":
        return ops.plan_reorder(codes, list(order or []))
    if op == "split":
        return ops.plan_split(codes, _one(selected, op), split_names(text))
    raise ValueError(f"unknown operation {op!r}; expected one of {OPERATIONS}")


def change_refusal(has_project: bool, read_only: bool, busy: bool, opening: bool) -> str | None:
    """Why the window cannot change the class list now (None: it can)."""
    if not has_project or opening:
        return "open a dataset first"
    if read_only:
        return "this window opened the dataset read-only"
    if busy:
        return "a model job is running (proposing or training on the current list); wait or cancel it first"
    return None


def hand_edited(root: str | Path) -> tuple[str, str] | None:
    """(what changed, the operation that would do it on purpose) when codes.txt was edited by hand in a way
    that gives the masks another meaning (the open refuses it), else None (read only, nothing written)."""
    from model.errors import LabeltoolError
    from model.project.class_journal import remembered_codes
    from model.project.codes import describe_change, read_codes

    root = Path(root)
    old = remembered_codes(root)
    if old is None:
        return None
    try:
        names = read_codes(root / "codes.txt")
    except (LabeltoolError, OSError):
        return None
    return describe_change(old, names)


def class_counts(project) -> list[tuple[int, int]]:
    """(masks, pixels) of each class over every saved mask (read on a worker thread)."""
    from model.project.provenance import decode_classes

    n = len(project.codes)
    masks, pixels = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    statuses = project.statuses()
    for name in project.names():
        path = project.label_path(name)
        if statuses.get(name) == "none" or not path.exists():
            continue
        try:
            classes = decode_classes(path.read_bytes())
        except OSError:
            continue
        if classes is None:
            continue
        counts = np.bincount(classes.ravel(), minlength=n)[:n]
        pixels += counts
        masks += counts > 0
    return [(int(m), int(p)) for m, p in zip(masks, pixels, strict=True)]


def run_change(root: str | Path, change: ops.Change, dry_run: bool) -> list[str]:
    """``labeltool classes`` from the window: the plan (``dry_run``) or the change made; the lines to show.
    Opens the dataset afresh (see the module doc); the engine refuses when the list changed meanwhile."""
    from model.project import class_journal
    from model.project.project import Project

    project = Project.open(root)
    try:
        return class_journal.apply(project, change, dry_run=dry_run)
    finally:
        project.db.close()


__all__ = ["OPERATIONS", "change_refusal", "class_counts", "hand_edited", "plan_change", "run_change", "split_names"]

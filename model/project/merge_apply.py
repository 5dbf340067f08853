"""Carrying out a merge plan (:mod:`model.project.merge`) in OURS, and resolving its conflicts.

A conflict keeps both masks: ours stays at ``labels/NAME_P.png``, theirs is copied (stamp intact) to
``.labeltool/conflicts/NAME_P.theirs.png`` and described in ``.labeltool/conflicts.json`` (both authors,
times and statuses, how many pixels differ). :func:`resolve` takes ours or theirs (the other is moved into
``.labeltool/removed/``), or a mask a person combined from both (:func:`combine`: theirs where a chosen
class differs), which is saved through ``Project.save_mask`` after both are moved aside.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from model.atomic import atomic_write_bytes, atomic_write_text
from model.errors import DatasetError, MaskError
from model.images.imageio import image_size, read_mask

from . import layout
from .assignment import overlap_names
from .kept import copy_aside, move_aside
from .merge import (
    RESOLVED_FILE,
    Item,
    MergePlan,
    copy_confidence,
    copy_mask,
    differing_pixels,
    label_name,
    plan_merge,
    read_resolved,
)
from .opinions import file_opinions
from .provenance import read_provenance, read_stamp
from .record import now_iso

CONFLICTS_DIR = "conflicts"
CONFLICTS_FILE = "conflicts.json"
TAKES = ("ours", "theirs")


def conflict_path(state_dir: Path, name: str) -> Path:
    return state_dir / CONFLICTS_DIR / f"{label_name(name)[:-4]}.theirs.png"


def read_conflicts(state_dir: Path) -> dict[str, dict[str, Any]]:
    """name -> the conflict's description, for the conflicts whose copy of theirs is still there."""
    path = state_dir / CONFLICTS_FILE
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DatasetError(path, f"cannot be read ({exc}); the masks of theirs are still in "
                                 f"{state_dir / CONFLICTS_DIR}") from exc
    if not isinstance(entries, list):
        raise DatasetError(path, "is not a list of conflicts")
    return {e["name"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)
            and conflict_path(state_dir, e["name"]).is_file()}


def conflict_names(state_dir: Path) -> set[str]:
    """Images with a merge conflict waiting (empty when there is no conflicts file or it is unreadable)."""
    try:
        return set(read_conflicts(state_dir))
    except DatasetError:
        return set()


def _pixels_of(path: Path) -> str | None:
    with contextlib.suppress(OSError):
        return read_provenance(path, need_pixels=True).pixels
    return None


def _remember_resolution(project, name: str, theirs_pixels: str | None) -> None:
    """A person resolved the conflict: the pair (their mask, the mask kept here) is remembered, so merging
    the same copy again does not ask the same question (``.labeltool/resolved.json``)."""
    if theirs_pixels is None:
        return
    path = project.state_dir / RESOLVED_FILE
    remembered = read_resolved(project.state_dir)
    remembered[name] = {"theirs": theirs_pixels, "kept": _pixels_of(project.label_path(name)), "at": now_iso()}
    atomic_write_text(path, json.dumps(remembered, indent=1) + "\n")


def _write_conflicts(state_dir: Path, entries: dict[str, dict[str, Any]]) -> None:
    path = state_dir / CONFLICTS_FILE
    if not entries:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    atomic_write_text(path, json.dumps(sorted(entries.values(), key=lambda e: e["name"]), indent=1) + "\n")


def merge(project, theirs: str | Path, dry_run: bool = False) -> MergePlan:
    """Merge the copy at ``theirs`` into ``project`` (OURS): the plan, carried out under the project's write
    lock unless ``dry_run`` (then read-only: nothing in either folder changes)."""
    if dry_run:
        return plan_merge(theirs, project.root)
    with project._write_lock():  # noqa: SLF001 - the merge is part of the project's own writing
        project.rescan()
        plan = plan_merge(theirs, project.root, project.statuses(), project._images)  # noqa: SLF001
        _hold_conflicts(project, plan)
        _file_opinions(project, plan)
        entries = read_conflicts(project.state_dir)
        changed: list[str] = []
        try:
            for item in plan.items:
                if item.outcome == "take":
                    copy_mask(project.state_dir, item.name, layout.label_path(plan.theirs, item.name),
                              project.label_path(item.name))
                    copy_confidence(plan.theirs, project.state_dir, item.name)
                    changed.append(item.name)
                elif item.outcome == "new":
                    _copy_new(project, plan, item)
                elif item.outcome == "conflict":
                    entries[item.name] = _keep_conflict(project, plan, item)
            _carry_split_lists(project, plan)
        finally:  # a merge stopped by an error still lists its conflicts and brings the record in line
            _write_conflicts(project.state_dir, entries)
            added, _removed = project.rescan()
            for name in [*changed, *added]:
                _remember_who(project, name, project.status(name))  # the record re-reads the changed files
    return plan


def _carry_split_lists(project, plan: MergePlan) -> None:
    """A new image that THEIRS validates or tests on is listed so here too (else a test image would be
    trained on); a shared image the two copies split differently is said in the plan's warnings."""
    from .merge import scan

    their_images, new = scan(plan.theirs).images, set(plan.new_files)
    for file_name in layout.LIST_FILES.values():
        theirs_listed, problems = layout.read_split_list(plan.theirs / file_name, their_images)
        plan.warnings += [str(p) for p in problems]
        path = project.root / file_name
        ours_listed, _problems = layout.read_split_list(path, project._images)  # noqa: SLF001
        adding = [n for n in theirs_listed if n in new and n not in ours_listed]
        if adding:
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            lines = [plan.new_files[n].name for n in adding]
            atomic_write_text(path, text + ("" if not text or text.endswith("\n") else "\n") + "\n".join(lines) + "\n")
            plan.warnings.append(f"{path}: {len(adding)} new image(s) listed, as in {plan.theirs / file_name}")
        differ = sorted((set(theirs_listed) ^ set(ours_listed)) - new)
        differ = [n for n in differ if n in project._images and n in their_images]  # noqa: SLF001
        if differ:
            plan.warnings.append(f"{path}: {len(differ)} image(s) are listed in only one copy's {file_name} "
                                 f"({', '.join(differ[:5])}{' …' if len(differ) > 5 else ''}); this copy's list "
                                 "is kept")


def _file_opinions(project, plan: MergePlan) -> None:
    """Two people's checked masks of an image both labelled (a conflict, or an image of the assignment's
    overlap) are kept as their opinions (``model.project.opinions``) before anything is replaced: agreement is
    measured on them whatever the merge and its resolution keep in labels/. One person's two versions are
    not an agreement question: they are left to the merge."""
    shared = set(overlap_names(project.state_dir))
    for item in plan.items:
        if item.outcome != "conflict" and not (item.name in shared and item.outcome in ("take", "keep", "same")):
            continue
        file_opinions(project.state_dir, item.name, [project.label_path(item.name),
                                                     layout.label_path(plan.theirs, item.name)])


def _hold_conflicts(project, plan: MergePlan) -> None:
    """An image open in an editor here is not replaced under it: theirs becomes a conflict instead."""
    for item in plan.items:
        if item.outcome == "take" and project.is_held(item.name):
            item.outcome, item.reason = "conflict", f"{item.reason}, but it is open in an editor here"


def _copy_new(project, plan: MergePlan, item: Item) -> None:
    source = plan.new_files[item.name]
    atomic_write_bytes(project.images_dir / source.name, source.read_bytes())
    label = layout.label_path(plan.theirs, item.name)
    if label.is_file():  # a mask of ours without its image (left behind) is moved aside, not overwritten
        copy_mask(project.state_dir, item.name, label, project.label_path(item.name))
        copy_confidence(plan.theirs, project.state_dir, item.name)


def _keep_conflict(project, plan: MergePlan, item: Item) -> dict[str, Any]:
    ours_data = project.label_path(item.name).read_bytes()
    theirs_data = layout.label_path(plan.theirs, item.name).read_bytes()
    target = conflict_path(project.state_dir, item.name)
    if target.is_file() and target.read_bytes() != theirs_data:
        move_aside(project.state_dir, item.name, target)  # an older conflict's mask is kept, not overwritten
    atomic_write_bytes(target, theirs_data)
    return {"name": item.name, "theirs_dataset": str(plan.theirs), "merged_at": now_iso(), "reason": item.reason,
            "ours": _describe(item.ours), "theirs": _describe(item.theirs),
            "differing_pixels": differing_pixels(ours_data, theirs_data), "theirs_file": str(target)}


def _describe(side) -> dict[str, Any]:
    return {"status": side.status, "by": side.by, "at": side.at}


def _remember_who(project, name: str, status: str) -> None:
    """The record's who-and-when columns follow the copied file's stamp."""
    with contextlib.suppress(OSError, ValueError):
        info = read_stamp(project.label_path(name)) or {}
        if info.get("source") == "person":
            values = {"corrected_by": info.get("by"), "corrected_at": info.get("at")}
        elif info.get("source") == "model":
            values = {"model": info.get("model"), "proposed_at": info.get("at"), "corrected_by": None,
                      "corrected_at": None}
        else:
            return
        project._remember(name, status=status, **values)  # noqa: SLF001 - the record's own write path


# ---- resolving a conflict -------------------------------------------------------------------------
def resolve(project, name: str, take: str) -> str:
    """Resolve the image's merge conflict by taking ``ours`` or ``theirs``; the other mask is moved into
    ``.labeltool/removed/``. The image's new status."""
    if take not in TAKES:
        raise ValueError(f"take is one of {TAKES}, not {take!r}")
    project.image_path(name)
    with project._write_lock():  # noqa: SLF001
        entries = read_conflicts(project.state_dir)
        theirs = conflict_path(project.state_dir, name)
        if name not in entries:
            raise MaskError(project.label_path(name), "has no merge conflict to resolve")
        theirs_pixels = _pixels_of(theirs)
        if take == "ours":
            move_aside(project.state_dir, name, theirs)
        else:
            label = project.label_path(name)
            move_aside(project.state_dir, name, label)
            try:
                os.replace(theirs, label)
            except OSError:  # another file system (a linked labels folder): copy, then remove
                atomic_write_bytes(label, theirs.read_bytes())
                theirs.unlink()
        del entries[name]
        _write_conflicts(project.state_dir, entries)
        _remember_resolution(project, name, theirs_pixels)
        status = project.status(name)
        _remember_who(project, name, status)
    return status


def resolve_combined(project, name: str, mask: np.ndarray, status: str) -> str:
    """Resolve the conflict with a mask a person combined from both (``status``: edited or corrected); both
    masks are moved into ``.labeltool/removed/`` first."""
    project.image_path(name)
    with project._write_lock():  # noqa: SLF001
        entries = read_conflicts(project.state_dir)
        if name not in entries:
            raise MaskError(project.label_path(name), "has no merge conflict to resolve")
        copy_aside(project.state_dir, name, project.label_path(name))
        project.save_mask(name, mask, status)
        theirs_pixels = _pixels_of(conflict_path(project.state_dir, name))
        move_aside(project.state_dir, name, conflict_path(project.state_dir, name))
        del entries[name]
        _write_conflicts(project.state_dir, entries)
        _remember_resolution(project, name, theirs_pixels)
    return project.status(name)


def conflict_masks(project, name: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(our mask, their mask, the conflict's description) of a conflicted image, read as the project reads
    masks (MaskError naming the file when one cannot be)."""
    entry = read_conflicts(project.state_dir).get(name)
    if entry is None:
        raise MaskError(project.label_path(name), "has no merge conflict to resolve")
    ours = project.load_mask(name)
    if ours is None:
        raise MaskError(project.label_path(name), "is gone; take theirs with `labeltool merge --resolve`")
    theirs = read_mask(conflict_path(project.state_dir, name), len(project.codes),
                       expected_size=image_size(project.image_path(name)))
    return ours, theirs, entry


def combined_status(ours: str, theirs: str) -> str:
    """What a mask a person combined from both sides is saved as: corrected when both were corrected (or
    reviewed), else edited (to be checked)."""
    return "corrected" if ours in ("corrected", "reviewed") and theirs in ("corrected", "reviewed") else "edited"


def combine(ours: np.ndarray, theirs: np.ndarray, classes) -> np.ndarray:
    """Ours, with theirs taken wherever the two disagree about one of ``classes`` (a pixel either labels
    as one of them): "take theirs for this class"."""
    if ours.shape != theirs.shape:
        raise ValueError(f"the masks differ in size: {ours.shape} and {theirs.shape}")
    chosen = np.asarray(sorted(classes), dtype=ours.dtype)
    region = (ours != theirs) & (np.isin(ours, chosen) | np.isin(theirs, chosen))
    return np.where(region, theirs, ours).astype(ours.dtype)

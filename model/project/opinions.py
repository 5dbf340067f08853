"""Each annotator's own mask of an image labelled by several people (the overlap share of an assignment):
``.labeltool/opinions/NAME/WHO_P.png``, the person's file byte for byte (its stamp is its proof: who, when,
checked). Agreement, the disagreement map and the consensus (``model.evaluation.agreement``) read them.

Only a person's *checked* mask is an opinion (a corrected or reviewed one: an unfinished edit is not yet
anyone's answer). They are filed when a merge meets an image both copies' people labelled
(``merge_apply``), and by :func:`collect` (``labeltool agreement``) from ``labels/`` and the conflicts a
merge kept. A newer opinion of the same person replaces the older one, which is moved into
``.labeltool/removed/`` first: nothing a person made is lost. The caller holds the project's write lock.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_bytes
from model.errors import MaskError
from model.images.imageio import MASK_SUFFIX

from .kept import move_aside
from .provenance import PNG_SIGNATURE, decode_classes, stamp_in

OPINIONS_DIR = "opinions"


def _safe(text: str) -> str:
    """A file or folder name for ``text`` (a person's name, an image name): path separators and control
    characters become ``_``."""
    return re.sub(r"[\\/:*?\"<>|\x00-\x1f]", "_", text).strip(" .") or "_"


def folder(state_dir: Path, name: str) -> Path:
    return state_dir / OPINIONS_DIR / _safe(name)


def opinion_path(state_dir: Path, name: str, who: str) -> Path:
    return folder(state_dir, name) / f"{_safe(who)}{MASK_SUFFIX}"


def author(png: bytes) -> str | None:
    """Who made this mask file, when it is a person's checked mask (else None: a proposal, an unfinished
    edit, a file with no stamp)."""
    if not png.startswith(PNG_SIGNATURE):
        return None
    info = stamp_in(png) or {}
    if info.get("source") != "person" or not info.get("checked") or not isinstance(info.get("by"), str):
        return None
    return info["by"]


def file_opinion(state_dir: Path, name: str, png: bytes) -> str | None:
    """Keep ``png`` as its author's opinion of image ``name``; the author, or None when it is not a person's
    checked mask. An identical file is left as it is; another one of the same author is moved aside first."""
    who = author(png)
    if who is None:
        return None
    target = opinion_path(state_dir, name, who)
    if target.is_file():
        if target.read_bytes() == png:
            return who
        move_aside(state_dir, f"{_safe(name)}.{_safe(who)}", target)
    atomic_write_bytes(target, png)
    return who


def file_opinions(state_dir: Path, name: str, paths: list[Path]) -> list[str]:
    """File the checked masks at ``paths`` (missing files skipped) as their authors' opinions of image
    ``name``; the authors filed. Two different files of the same person are not an agreement question (one
    person's two versions): none of them is filed then."""
    files = []
    for path in paths:
        try:
            files.append(path.read_bytes())
        except FileNotFoundError:
            continue
    authors = [a for a in map(author, files) if a is not None]
    if len(set(authors)) != len(authors) and len({png for png in files if author(png)}) > 1:
        return []
    return [who for who in (file_opinion(state_dir, name, png) for png in files) if who is not None]


def collect(project) -> dict[str, list[str]]:
    """File the checked masks of the assignment's overlap images and of the merge conflicts (ours in labels/,
    theirs kept by the merge) as opinions, under the project's write lock: image -> the authors filed."""
    from .assignment import overlap_names
    from .merge_apply import conflict_path, read_conflicts

    filed: dict[str, list[str]] = {}
    with project._write_lock():  # noqa: SLF001 - opinions are part of the project's own writing
        conflicts, known = read_conflicts(project.state_dir), set(project.names())
        for name in dict.fromkeys([*overlap_names(project.state_dir), *conflicts]):
            if name not in known:
                continue
            paths = [project.label_path(name), *([conflict_path(project.state_dir, name)] if name in conflicts else [])]
            who = file_opinions(project.state_dir, name, paths)
            if who:
                filed[name] = who
    return filed


def opinion_names(state_dir: Path) -> list[str]:
    """The image folders holding opinions (their names made file-safe), sorted."""
    root = state_dir / OPINIONS_DIR
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def read_opinions(state_dir: Path, name: str, shape: tuple[int, int] | None = None,
                  num_classes: int | None = None) -> dict[str, np.ndarray]:
    """Annotator -> their mask of image ``name`` (sorted by annotator). MaskError naming the file for one
    that cannot be decoded, has another size than ``shape`` or a class index outside ``num_classes``."""
    out: dict[str, np.ndarray] = {}
    base = folder(state_dir, name)
    if not base.is_dir():
        return out
    for path in sorted(base.glob(f"*{MASK_SUFFIX}")):
        png = path.read_bytes()
        who, mask = author(png), decode_classes(png)
        if who is None or mask is None:
            raise MaskError(path, "is not a person's checked mask with class indices; move it away")
        if shape is not None and mask.shape != tuple(shape):
            raise MaskError(path, f"is {mask.shape[1]}x{mask.shape[0]}, the image is {shape[1]}x{shape[0]}")
        if num_classes is not None and mask.size and int(mask.max()) >= num_classes:
            raise MaskError(path, f"holds class index {int(mask.max())}, codes.txt has {num_classes} classes")
        out[who] = mask
    return out


__all__ = ["OPINIONS_DIR", "author", "collect", "file_opinion", "file_opinions", "folder", "opinion_names",
           "opinion_path", "read_opinions"]

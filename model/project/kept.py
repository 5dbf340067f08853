"""What a person does to an image's status (Project's ``set_status``, ``load_unpainted``,
``has_kept_proposal``), and where a mask goes when a person replaces or removes it, so that nothing a
model or a person made is lost by a click: ``.labeltool/proposals/NAME_P.png`` keeps the proposal a
person first saved over ("Revert to proposal" restores it), ``.labeltool/removed/NAME_P.<time>.png``
keeps a removed mask (and the person's mask a revert replaced). The file helpers' callers hold the project's write lock.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_bytes
from model.errors import MaskError
from model.images.imageio import MASK_SUFFIX

from .provenance import read_provenance, read_stamp, unpainted_of
from .status import NO_FILE, decide, stat_values

STATUSES = ("none", "proposed", "edited", "corrected", "reviewed", "rejected", "unknown")  # model.project.STATUSES
SAVED = ("proposed", "edited", "corrected")  # what Project.save_mask writes

PROPOSALS_DIR = "proposals"
REMOVED_DIR = "removed"


def kept_path(state_dir: Path, name: str) -> Path:
    return state_dir / PROPOSALS_DIR / f"{name}{MASK_SUFFIX}"


def keep_proposal(state_dir: Path, name: str, label: Path) -> None:
    """Copy the proposal file at ``label`` aside (atomically), replacing an older kept one."""
    atomic_write_bytes(kept_path(state_dir, name), label.read_bytes())


def drop_kept(state_dir: Path, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        kept_path(state_dir, name).unlink()


def restore_kept(state_dir: Path, name: str, label: Path) -> bytes:
    """Put the kept proposal back at ``label`` (atomically) and forget the kept copy; its bytes."""
    data = kept_path(state_dir, name).read_bytes()
    atomic_write_bytes(label, data)
    drop_kept(state_dir, name)
    return data


def _removed_path(state_dir: Path, name: str) -> Path:
    folder = state_dir / REMOVED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{name}{MASK_SUFFIX[:-4]}.{time.strftime('%Y%m%d-%H%M%S')}"
    target = folder / f"{stem}.png"
    n = 1
    while target.exists():
        target, n = folder / f"{stem}-{n}.png", n + 1
    return target


def copy_aside(state_dir: Path, name: str, label: Path) -> Path | None:
    """Copy a mask file into ``.labeltool/removed/`` (a timestamped name) before it is replaced."""
    try:
        data = label.read_bytes()
    except FileNotFoundError:
        return None
    return atomic_write_bytes(_removed_path(state_dir, name), data)


def move_aside(state_dir: Path, name: str, label: Path) -> Path | None:
    """Move a mask file into ``.labeltool/removed/`` under a timestamped name; None when there is none."""
    if not label.exists():
        return None
    target = _removed_path(state_dir, name)
    try:
        os.replace(label, target)
    except FileNotFoundError:
        return None
    except OSError:  # another file system (a linked labels folder): copy, then remove
        atomic_write_bytes(target, label.read_bytes())
        label.unlink()
    return target


class StatusActions:
    """Project's status actions (a mixin: ``self`` is a :class:`model.project.Project`)."""

    def _unpainted_checked(self, path: Path, mask: np.ndarray, status: str, unpainted) -> np.ndarray | None:
        if unpainted is None:
            return None
        unpainted = np.asarray(unpainted, dtype=bool)
        if unpainted.shape != mask.shape:
            raise MaskError(path, f"the unpainted map is {unpainted.shape}, the mask {mask.shape}")
        if not unpainted.any():
            return None
        if status != "edited":
            raise MaskError(path, f"{int(unpainted.sum())} pixels were never painted; a mask with unpainted "
                                  f"pixels can only be saved as edited, not {status}")
        return unpainted

    def load_unpainted(self, name: str) -> np.ndarray | None:
        """The bool H x W map of pixels nobody painted that the image's edited mask records, or None."""
        try:
            return unpainted_of(read_stamp(self.label_path(name)))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise MaskError(self.label_path(name), f"cannot be read ({exc.strerror or exc})") from exc

    def has_kept_proposal(self, name: str) -> bool:
        """A proposal was kept when a person first saved over it ("Revert to proposal" can restore it)."""
        return kept_path(self.state_dir, name).is_file()

    def set_status(self, name: str, status: str) -> None:
        """A person sets the image's status: ``corrected`` (Mark corrected: the mask file as it is becomes
        theirs; refused while it records unpainted pixels), ``edited`` (Mark not checked), ``proposed``
        (Revert to proposal: the proposal kept when a person first saved over it comes back; the mask it
        replaces is copied into ``.labeltool/removed/``) or ``none``
        (the mask file is moved into ``.labeltool/removed/``, never deleted)."""
        if status in ("reviewed", "rejected"):
            raise ValueError(f"a mask becomes {status} by a review (Project.review), not by set_status")
        if status not in STATUSES or status == "unknown":
            raise ValueError(f"cannot set status {status!r}; expected one of none, proposed, edited, corrected")
        self.image_path(name)
        path = self.label_path(name)
        with self._write_lock():
            if status == "none":
                self._remove_mask(name, path)
            elif status == "proposed":
                self._restore_proposal(name, path)
            else:
                mask = self.load_mask(name)
                if mask is None:
                    raise MaskError(path, f"cannot be marked {status}: the mask file does not exist")
                unpainted = self.load_unpainted(name)
                if status == "corrected" and unpainted is not None:
                    raise MaskError(path, f"records {int(unpainted.sum())} pixels nobody painted; paint them "
                                          "(or mark them Void) before marking it corrected")
                self.save_mask(name, mask, status, unpainted=unpainted)

    def _remove_mask(self, name: str, path: Path) -> None:
        try:
            move_aside(self.state_dir, name, path)
        except OSError as exc:
            raise MaskError(path, f"cannot be moved aside ({exc.strerror or exc}); nothing was changed") from exc
        with contextlib.suppress(FileNotFoundError):
            self.confidence_path(name).unlink()
        self._remember(name, status="none", **NO_FILE, pixels=None)

    def _restore_proposal(self, name: str, path: Path) -> None:
        kept = kept_path(self.state_dir, name)
        if not kept.is_file():
            if self.status(name) == "proposed":
                return
            raise MaskError(path, "has no kept proposal to revert to (none was written, or a newer mask "
                                  "replaced it)")
        prov = read_provenance(kept)
        if decide(prov) != "proposed":
            raise MaskError(kept, "is no longer a model's proposal as written; it was not restored")
        try:
            copy_aside(self.state_dir, name, path)  # the person's mask it replaces is kept too
            restore_kept(self.state_dir, name, path)
            st = path.stat()
        except OSError as exc:
            raise MaskError(path, f"cannot be written ({exc.strerror or exc}); nothing was changed") from exc
        self._remember(name, status="proposed", **stat_values(st), pixels=prov.pixels or prov.idat,
                       model=prov.info.get("model"), proposed_at=prov.info.get("at"), corrected_by=None,
                       corrected_at=None)

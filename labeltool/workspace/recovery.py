"""Unsaved pixels are never only in memory: when a save fails, the writer thread writes them to a recovery
file, and the window says where (no Qt).

Where: ``$XDG_CACHE_HOME/labeltool/recovery/<dataset-id>/NAME_P.png`` (``~/.cache`` by default;
``%LOCALAPPDATA%`` on Windows), because a failed save usually means the dataset folder cannot be written
(read-only, full, gone); when the cache cannot be written either, ``.labeltool/recovery/NAME_P.png`` in the
dataset. ``<dataset-id>`` is the dataset folder's name and a hash of its full path. Each failed save of an
image replaces that image's recovery file: it holds the newest unsaved pixels.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

MASK_SUFFIX = "_P.png"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
    return Path(base) if base else Path.home() / ".cache"


def recovery_folders(project) -> list[Path]:
    """Where a recovery file of this project may go, in the order tried."""
    root = Path(project.root).resolve()
    dataset_id = f"{root.name}-{hashlib.sha256(str(root).encode('utf-8')).hexdigest()[:12]}"
    return [cache_root() / "labeltool" / "recovery" / dataset_id, Path(project.state_dir) / "recovery"]


def write_recovery(project, name: str, mask: np.ndarray) -> Path | None:
    """Write the unsaved mask of ``name`` where it can be written; its path, or None when nowhere could."""
    from model.images.imageio import write_mask

    for folder in recovery_folders(project):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return Path(write_mask(folder / f"{name}{MASK_SUFFIX}", mask, project.palette))
        except (OSError, ValueError):
            continue
    return None


def recovery_of(exc: BaseException) -> Path | None:
    """The recovery file a failed save left (:func:`write_recovery`), or None."""
    return getattr(exc, "recovery_path", None)

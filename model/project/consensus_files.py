"""The consensus of an image several people labelled, kept for the reviewer (``labeltool agreement
--write-consensus``): ``.labeltool/consensus/NAME_P.png`` (class indices, the project's palette) and
``NAME.undecided.png`` (255 where a person must decide). labels/ is never written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.atomic import atomic_write_bytes
from model.images.imageio import MASK_SUFFIX, encode_mask, read_mask

from .opinions import folder

CONSENSUS_DIR = "consensus"


def consensus_paths(project, name: str) -> tuple[Path, Path]:
    base = project.state_dir / CONSENSUS_DIR / folder(project.state_dir, name).name
    return Path(f"{base}{MASK_SUFFIX}"), Path(f"{base}.undecided.png")


def write_consensus_files(project, name: str, mask: np.ndarray, undecided: np.ndarray) -> tuple[Path, Path]:
    mask_path, undecided_path = consensus_paths(project, name)
    atomic_write_bytes(mask_path, encode_mask(mask, project.palette, mask_path))
    atomic_write_bytes(undecided_path, encode_mask(np.where(undecided, 255, 0).astype(np.uint8), None,
                                                   undecided_path))
    return mask_path, undecided_path


def read_consensus_files(project, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(consensus, undecided) as written, or None when there is none."""
    mask_path, undecided_path = consensus_paths(project, name)
    if not mask_path.is_file() or not undecided_path.is_file():
        return None
    return read_mask(mask_path, len(project.codes)), read_mask(undecided_path) > 0


__all__ = ["CONSENSUS_DIR", "consensus_paths", "read_consensus_files", "write_consensus_files"]

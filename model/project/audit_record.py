"""The audit's record (``model.evaluation.audit`` runs it): ``.labeltool/audit.json`` (name -> row: the model,
the disputed pixels and share, the threshold, the hash of the mask's pixels that were audited, when) and
``.labeltool/audit/NAME.png`` (255 = a disputed pixel). Reading it needs no model (the app's list reads it).
A row holds only while the mask on disk has the pixels audited and is still checked: :func:`current_disputes`
is the one rule for that."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import DatasetError
from model.images.imageio import read_mask

AUDIT_FILE = "audit.json"
AUDIT_DIR = "audit"
AUDITED = ("corrected", "reviewed")


def audit_path(state_dir: Path) -> Path:
    return state_dir / AUDIT_FILE


def plane_path(state_dir: Path, name: str) -> Path:
    return state_dir / AUDIT_DIR / f"{name}.png"


def read_audit(state_dir: Path) -> dict[str, dict[str, Any]]:
    """name -> audit row (every row, stale or not); DatasetError naming the file when it cannot be read."""
    path = audit_path(state_dir)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DatasetError(path, f"cannot be read ({exc}); run the audit again") from exc
    if not isinstance(rows, dict):
        raise DatasetError(path, "is not an audit (name -> row); run the audit again")
    return {n: r for n, r in rows.items() if isinstance(r, dict) and isinstance(r.get("disputed"), int)}


def still_audited(row: dict[str, Any], record: Any) -> bool:
    """Whether an audit row still describes the mask its record describes: the image is still checked, and
    the record's pixel hash is the one audited, or, for a record that keeps no pixel hash (a person's mask
    the record re-read from its file), the mask file's size and time are those the audit saw."""
    if record is None or record.status not in AUDITED:
        return False
    if record.pixels is not None:
        return record.pixels == row.get("pixels")
    return record.size is not None and [record.size, record.mtime_ns] == row.get("file")


def current_disputes(rows: dict[str, dict[str, Any]], records: dict[str, Any]) -> dict[str, int]:
    """name -> disputed pixels, for the rows that still describe the mask on disk (:func:`still_audited`); a
    changed mask's row is left out (not audited)."""
    return {name: int(row["disputed"]) for name, row in rows.items() if still_audited(row, records.get(name))}


def read_plane(project, name: str) -> np.ndarray | None:
    """The disputed pixels of ``name``'s last audit (bool), or None when there is none."""
    path = plane_path(project.state_dir, name)
    return read_mask(path) > 0 if path.is_file() else None


__all__ = ["AUDITED", "AUDIT_DIR", "AUDIT_FILE", "audit_path", "current_disputes", "plane_path", "read_audit",
           "read_plane", "still_audited"]

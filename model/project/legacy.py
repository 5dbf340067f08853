"""labeltool 0.1's record (``.labeltool/project.json`` and ``uncertainty.json``): read once and migrated.

A 0.1 proposal still exactly as written gets its provenance chunk (so copies keep it a proposal); a mask
whose origin can no longer be proven is ``unknown`` (never trained on), never a correction by guess.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.atomic import atomic_write_bytes

from . import layout
from .provenance import decoded_hash, read_provenance, stamp
from .record import now_iso
from .status import decide, stat_values

if TYPE_CHECKING:
    from .record import Record

LEGACY_STATE_FILE = "project.json"  # labeltool 0.1's record, migrated once
LEGACY_UNCERTAINTY_FILE = "uncertainty.json"
LEGACY_MODEL = "(labeltool 0.1)"


def read_legacy_state(state_dir: Path) -> tuple[Any, str | None]:
    """labeltool 0.1's ``project.json`` (parsed, or None when absent) and a problem naming it."""
    path = state_dir / LEGACY_STATE_FILE
    if not path.exists():
        return None, None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"{path}: unreadable ({exc}); masks without provenance are marked unknown (never trained on) " \
                   "until you accept them"
    if not isinstance(state, dict) or not isinstance(state.get("images"), dict):
        return {}, f"{path}: not a labeltool state file; masks without provenance are marked unknown"
    return state, None


def legacy_status(state: Any, name: str, st: os.stat_result) -> str:
    """labeltool 0.1's verdict on a mask file without provenance (the evidence
    :func:`model.project.status.decide` takes): ``unknown`` whenever it cannot be told (a garbage record, a
    proposal whose file changed since), never a correction by guess."""
    images = state.get("images") if isinstance(state, dict) else None
    if not isinstance(images, dict):
        return "unknown"
    record = images.get(name)
    if name in images and not isinstance(record, dict):
        return "unknown"
    if record is None:
        return "corrected"  # present before labeltool first opened the folder
    if record.get("status") == "proposed":
        return "proposed" if record.get("mtime_ns") == st.st_mtime_ns else "unknown"
    return "corrected"


def migrate_legacy_state(db: Record, root: Path, state_dir: Path, names: list[str], writable: bool = True) -> list[str]:
    """Once: statuses, palette and confidences of labeltool 0.1 (``project.json``, ``uncertainty.json``).

    A 0.1 proposal still exactly as written gets its provenance chunk (so copies keep it a proposal);
    one whose file changed since can no longer be told from a correction made elsewhere: ``unknown``.
    Returns the warnings to show (the record is changed through ``db``).
    """
    warnings: list[str] = []
    if db.get_meta("legacy_migrated") is not None or not writable:
        return warnings
    path = state_dir / LEGACY_STATE_FILE
    state, problem = read_legacy_state(state_dir)
    if state is None:
        db.set_meta("legacy_migrated", "none")
        return warnings
    if problem:
        warnings.append(problem)
    images = state.get("images") if isinstance(state, dict) else None
    files = layout.scan_labels(root)
    confidences = _legacy_uncertainty(state_dir)
    updates: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        st = files.get(name)
        if st is None:
            continue
        label = layout.label_path(root, name)
        prov = read_provenance(label)
        if prov.info is not None:  # already written by this version
            continue
        record = images.get(name) if isinstance(images, dict) else None
        if images is not None and name in images and not isinstance(record, dict):
            warnings.append(f"{path}: the record of {name} is not an object; its mask is marked unknown")
        status = decide(prov, legacy=legacy_status(state, name, st))
        values: dict[str, Any] = {"status": status}
        data = label.read_bytes()
        if status == "proposed":
            data = stamp(data, {"source": "model", "model": LEGACY_MODEL, "at": now_iso()}, with_pixels=True)
            atomic_write_bytes(label, data)
            values["model"] = LEGACY_MODEL
            values.update(confidences.get(name, {}))
        values.update(stat_values(label.stat()), pixels=decoded_hash(data))
        updates.append((name, values))
    db.put_many(updates)
    if isinstance(state, dict) and state.get("palette") is not None:
        db.set_meta("palette", state["palette"])
    db.set_meta("legacy_migrated", str(path))
    return warnings


def _legacy_uncertainty(state_dir: Path) -> dict[str, dict[str, float]]:
    try:
        data = json.loads((state_dir / LEGACY_UNCERTAINTY_FILE).read_text(encoding="utf-8"))
        images = data.get("images", {})
    except (OSError, ValueError, AttributeError):
        return {}
    out: dict[str, dict[str, float]] = {}
    for name, rec in images.items() if isinstance(images, dict) else ():
        if isinstance(rec, dict):
            out[name] = {k: float(v) for k, v in rec.items()
                         if k in ("mean_confidence", "unsure_fraction") and isinstance(v, (int, float))}
    return out

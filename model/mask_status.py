"""Mask statuses from the files, by the provenance rule, given what the record remembers.

``verify_mask_file`` decides one file; ``reconcile`` brings a record's rows in line with the folder
(re-reading only files whose size or mtime changed); ``read_statuses`` does it read-only, for commands
that must not change a dataset (``check``, ``export``). model.project's ``Project`` uses the first two.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import layout
from .imageio import MASK_SUFFIX
from .legacy import legacy_status, read_legacy_state
from .provenance import read_provenance, status_of
from .record import DB_FILE, ImageRecord

STATE_DIR = ".labeltool"


def verify_mask_file(path: Path | str, row, warnings: list[str]) -> tuple[str, str | None]:
    """(status, pixel hash or None) of the mask file at ``path`` by the provenance rule
    (:func:`model.provenance.status_of`). A record ``row`` (ImageRecord or a ``Record.stats`` tuple) that
    says "proposed"/"unknown" keeps that status while the file's pixels are the ones it recorded."""
    if isinstance(row, ImageRecord):
        status_then, pixels_then = row.status, row.pixels
    else:
        status_then, pixels_then = (row[0], row[3]) if row else (None, None)
    sticky = status_then in ("proposed", "unknown") and bool(pixels_then)
    try:
        prov = read_provenance(path, need_pixels=sticky)
    except FileNotFoundError:
        return "none", None
    except OSError as exc:
        warnings.append(f"{path}: cannot be read ({exc.strerror or exc}); counted as unknown")
        return "unknown", None
    status = status_of(prov)
    if status == "corrected" and prov.source != "model" and sticky and prov.pixels == pixels_then:
        status = status_then  # the pixels it recorded: e.g. a copy that lost nothing but its mtime
    return status, prov.pixels


def reconcile(root: Path, names, rows: dict[str, tuple], warnings: list[str]
              ) -> tuple[dict[str, str], list[tuple[str, dict[str, Any]]]]:
    """Statuses of ``names`` given the record's ``rows`` (``Record.stats()``) and the mask files on disk,
    and the record updates that bring it in line (files whose size or mtime differ are re-read)."""
    files = layout.scan_labels(root)
    labels = str(layout.labels_dir(root))
    statuses: dict[str, str] = {}
    updates: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        st = files.get(name)
        row = rows.get(name)
        if st is None:
            statuses[name] = "none"
            if row is not None and row[0] != "none":
                updates.append((name, {"status": "none", "size": None, "mtime_ns": None}))
            continue
        if row is not None and row[1] == st.st_size and row[2] == st.st_mtime_ns:
            statuses[name] = row[0]
            continue
        status, pixels = verify_mask_file(os.path.join(labels, name + MASK_SUFFIX), row, warnings)
        statuses[name] = status
        updates.append((name, {"status": status, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "pixels": pixels}))
    return statuses, updates


def read_statuses(root: Path, names) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Statuses without writing anything (``check``/``export`` on a dataset they must not change), and
    the saved palette if any: the record is opened read-only when it exists."""
    import sqlite3

    from .readonly_db import read_only_connection

    rows: dict[str, tuple] = {}
    palette = None
    db = Path(root) / STATE_DIR / DB_FILE
    if db.exists():
        try:
            with read_only_connection(db) as conn:  # leaves no -wal/-shm behind
                rows = {r[0]: r[1:] for r in conn.execute("SELECT name, status, size, mtime_ns, pixels FROM images")}
                found = conn.execute("SELECT value FROM meta WHERE key='palette'").fetchone()
                palette = json.loads(found[0]) if found else None
        except (sqlite3.Error, OSError, ValueError):
            rows, palette = {}, None
    statuses, _ = reconcile(Path(root), names, rows, [])
    if not db.exists():  # never opened by this version: labeltool 0.1's record decides for unstamped masks
        state, _problem = read_legacy_state(Path(root) / STATE_DIR)
        if state is not None:
            palette = state.get("palette") if isinstance(state, dict) else None
            files = layout.scan_labels(Path(root))
            for name, status in statuses.items():
                if status == "corrected" and read_provenance(layout.label_path(Path(root), name)).info is None:
                    statuses[name] = legacy_status(state, name, files[name])
    return statuses, palette

"""The status rule, in one place: :func:`decide`. Everything that asks what a mask is (the record, the
app, ``status``, ``predict``, ``train``, ``export``, labeltool 0.1's migration) comes through here.

- no mask file: ``none``;
- a person's stamp: ``corrected``, or ``edited`` when it says ``"checked": false`` (a v1 person stamp
  without ``checked`` is a checked one). A person's stamp always beats the index row;
- a checked person's stamp with a review (``"review"``) whose pixel hash matches the decoded pixels:
  ``reviewed`` (approved) or ``rejected`` (sent back with a note); a review of other pixels is ignored
  (the mask is ``corrected``: a tool changed the pixels and kept the chunk);
- a model's stamp whose decoded pixels still match its proof: ``proposed``; any other model stamp:
  ``unknown`` (never trained on);
- a stamp that cannot be read (or of a source this version does not know): ``unknown``;
- no labeltool stamp: ``corrected`` (another tool, an import), except that a file whose pixels are the
  ones the index recorded for a ``proposed``/``edited``/``unknown`` mask keeps that status (a tool
  stripped the chunk but kept the pixels), and that labeltool 0.1's record decides for the masks it
  knew (:mod:`model.project.legacy`).

``verify_mask_file`` reads one file and asks :func:`decide`; ``reconcile`` brings a record's rows in line
with the folder, trusting a row only while its file's size, mtime, inode and ctime are unchanged;
``model.project.read_statuses`` does it read-only, for commands that must not change a dataset
(``check``, ``export``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.images.imageio import MASK_SUFFIX

from . import layout
from .provenance import Provenance, read_provenance, review_of
from .record import ImageRecord

STATE_DIR = ".labeltool"
STICKY = ("proposed", "edited", "unknown")  # statuses a chunk-less file with the recorded pixels keeps
UNTRAINED = ("none", "proposed", "edited", "rejected", "unknown")  # never trained on
TRAINED = ("corrected", "reviewed")  # trained on (only "reviewed" with the setting train_only_reviewed)
REVIEWABLE = ("corrected", "reviewed", "rejected")  # what a reviewer may approve or reject
KEPT = ("edited", "corrected", "reviewed", "rejected", "unknown")  # a person's work (or a mask nobody can vouch for): never overwritten by a proposal
VERDICT_STATUS = {"approved": "reviewed", "rejected": "rejected"}


def trained_statuses(only_reviewed: bool = False) -> tuple[str, ...]:
    """The statuses trained on: corrected and reviewed, or only reviewed (project setting
    ``train_only_reviewed``)."""
    return ("reviewed",) if only_reviewed else TRAINED


def decide(prov: Provenance | None, row_status: str | None = None, row_pixels: str | None = None,
           legacy: str | None = None) -> str:
    """THE status rule. ``prov``: what the mask file says (None: no file); ``row_status``/``row_pixels``:
    what the index recorded for it (its pixel hash); ``legacy``: labeltool 0.1's verdict on a file
    without a stamp (:func:`model.project.legacy.legacy_status`), when that record exists."""
    if prov is None:
        return "none"
    source = prov.source
    if source == "person":
        if prov.info.get("checked") is False:
            return "edited"
        review = review_of(prov.info)
        if review is not None and prov.pixels is not None and review["pixels"] == prov.pixels:
            return VERDICT_STATUS[review["verdict"]]
        return "corrected"
    if source == "model":
        return "proposed" if prov.proven else "unknown"
    if prov.info is not None:  # unreadable, or a source we do not know
        return "unknown"
    if row_status in STICKY and row_pixels and row_pixels in (prov.pixels, prov.idat):
        return row_status
    if legacy is not None:
        return legacy
    return "corrected"


def row_matches(row: ImageRecord | tuple | None, st: os.stat_result) -> bool:
    """The index row still describes the file: same size, mtime, inode and ctime (a row of an older
    index without inode/ctime is not trusted once)."""
    if row is None:
        return False
    if isinstance(row, ImageRecord):
        size, mtime, inode, ctime = row.size, row.mtime_ns, row.inode, row.ctime_ns
    else:
        size, mtime, inode, ctime = row[1], row[2], row[4], row[5]
    return size == st.st_size and mtime == st.st_mtime_ns and inode == st.st_ino and ctime == st.st_ctime_ns


def stat_values(st: os.stat_result) -> dict[str, int]:
    """The file facts a row is trusted by."""
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino, "ctime_ns": st.st_ctime_ns}


NO_FILE = {"size": None, "mtime_ns": None, "inode": None, "ctime_ns": None}


def verify_mask_file(path: Path | str, row, warnings: list[str], legacy: str | None = None
                     ) -> tuple[str, str | None]:
    """(status, pixel hash or None) of the mask file at ``path`` by :func:`decide`, given the record's
    ``row`` (ImageRecord or a ``Record.stats`` tuple) and labeltool 0.1's verdict ``legacy``."""
    if isinstance(row, ImageRecord):
        status_then, pixels_then = row.status, row.pixels
    else:
        status_then, pixels_then = (row[0], row[3]) if row else (None, None)
    sticky = status_then in STICKY and bool(pixels_then)
    try:
        prov = read_provenance(path)
        if prov.info is None and sticky:  # no stamp: are these the pixels the record knew?
            prov = read_provenance(path, need_pixels=True)
    except FileNotFoundError:
        return "none", None
    except OSError as exc:
        warnings.append(f"{path}: cannot be read ({exc.strerror or exc}); counted as unknown")
        return "unknown", None
    status = decide(prov, status_then, pixels_then, legacy)
    keep = pixels_then if status == status_then and status in STICKY and not prov.pixels else None
    return status, prov.pixels or prov.idat or keep


def reconcile(root: Path, names, rows: dict[str, tuple], warnings: list[str],
              legacy: Callable[[str, os.stat_result], str | None] | None = None
              ) -> tuple[dict[str, str], list[tuple[str, dict[str, Any]]]]:
    """Statuses of ``names`` given the record's ``rows`` (``Record.stats()``) and the mask files on disk,
    and the record updates that bring it in line (files whose size, mtime, inode or ctime differ are
    re-read). ``legacy(name, stat)``: labeltool 0.1's verdict on a file without a stamp."""
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
                updates.append((name, {"status": "none", **NO_FILE}))
            continue
        if (row is not None and row[1] == st.st_size and row[2] == st.st_mtime_ns and row[4] == st.st_ino
                and row[5] == st.st_ctime_ns):  # row_matches, inline: this loop runs 100,000 times at open
            statuses[name] = row[0]
            continue
        verdict = legacy(name, st) if legacy is not None else None
        status, pixels = verify_mask_file(os.path.join(labels, name + MASK_SUFFIX), row, warnings, verdict)
        statuses[name] = status
        updates.append((name, {"status": status, **stat_values(st), "pixels": pixels}))
    return statuses, updates

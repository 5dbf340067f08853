"""What changed on disk since the window last looked (no Qt): the record's changed rows, images added to or
removed from the folder, and the open image's mask file."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from labeltool.workspace.loader import Fingerprint, fingerprint
from model.errors import LabeltoolError
from model.project.project import Project


@dataclass
class Changes:
    serial: int
    rows: dict[str, tuple[str, Any]]  # name -> (status, record)
    current: str | None = None
    current_fingerprint: Fingerprint = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def poll_changes(project: Project, serial: int, current: str | None = None, rescan: bool = False) -> Changes:
    """What changed in the record since ``serial`` (this process or any other), and with ``rescan`` the
    images added to / removed from the folder."""
    added: list[str] = []
    removed: list[str] = []
    if rescan:
        added, removed = project.rescan()
    serial, names = project.changed_since(serial)
    names = list(dict.fromkeys([*names, *added]))
    if len(names) > 2000:
        records = project.records()
        rows = {n: (records[n].status, records[n]) for n in names if n in records}
    else:
        rows = {}
        for name in names:
            with contextlib.suppress(LabeltoolError):
                record = project.record(name)
                rows[name] = (record.status if record is not None else "none", record)
    fp = fingerprint(project.label_path(current)) if current is not None else None
    return Changes(serial, rows, current, fp, list(added), list(removed))

"""Applying a class-list change so that a crash at any moment leaves the old or the new state, never a mix.

The change is written in three steps under the project's write lock, in ``.labeltool/classes-change/``:

1. **stage**: ``journal.json`` says ``"staging"``; every rewritten mask is written into ``new/``. Nothing
   the project uses has changed yet. A crash here is *rolled back* on the next open: the folder is
   removed.
2. **commit**: ``journal.json`` is replaced (atomically) by one that says ``"committed"`` and holds the
   new list, its palette and each mask's new status. That one rename is the moment the change happens.
3. **swap**: each old mask moves into ``old/`` and its new one into its place (two renames, in an order
   that can be resumed), then the old list is versioned in ``models/codes-TIME.txt`` (and
   ``codes-TIME.json``: both lists and the mapping), codes.txt is replaced, the record learns the new
   list, palette and rows, and the folder is renamed ``.labeltool/classes-TIME/`` (the old masks stay
   there: nothing a person made is lost). A crash here is *resumed* on the next open.

Roll forward after the commit (rather than back) because from then on both lists' masks may be on disk
and only the journal knows which: finishing needs nothing but renames of files already written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_bytes, atomic_write_text
from model.errors import DatasetError, LabeltoolError
from model.filelock import flocked
from model.images.imageio import MASK_SUFFIX

from .classes import Change, Rewrite, describe_plan, new_palette, plan
from .codes import write_codes
from .kept import PROPOSALS_DIR
from .record import DB_FILE, Record
from .status import STATE_DIR, stat_values

CHANGE_DIR = "classes-change"
JOURNAL = "journal.json"


def _crash_point(step: str, n: int) -> None:
    """Tests replace this to simulate a crash after ``n`` files of ``step`` ("stage" or "swap")."""


def apply(project, change: Change, dry_run: bool = False) -> list[str]:
    """Apply ``change`` to the project's codes.txt and every mask (or, with ``dry_run``, only say what it
    would do); the lines to print."""
    with project._write_lock():  # noqa: SLF001 - the project's own lock, the one every mask write takes
        same_codes(project)
        if list(change.old) != list(project.codes):
            raise DatasetError(project.root / "codes.txt", f"the change was planned for {' '.join(change.old)}, "
                                                           f"but the dataset has {' '.join(project.codes)}; nothing "
                                                           "was changed")
        palette = new_palette(change, project.palette)
        if dry_run:
            return ["dry run, nothing was changed:",
                    *describe_plan(change, list(plan(project, change, palette, encode=False)))]
        folder = project.state_dir / CHANGE_DIR
        if folder.exists():
            raise DatasetError(folder, "an earlier class-list change is unfinished; open the dataset again to "
                                       "finish or undo it first")
        stamp_time = _unique_time(project.root)
        journal = {"state": "staging", "op": change.op, "summary": change.summary, "time": stamp_time,
                   "old": change.old, "new": change.new, "mapping": change.mapping}
        (folder / "new").mkdir(parents=True)
        atomic_write_text(folder / JOURNAL, json.dumps(journal))
        items = []
        try:
            for n, item in enumerate(plan(project, change, palette)):
                atomic_write_bytes(folder / "new" / item.kind / _file(item), item.png)
                item.png = b""
                items.append(item)
                _crash_point("stage", n + 1)
        except LabeltoolError:  # a mask that cannot be renumbered (named): nothing changed, nothing staged
            shutil.rmtree(folder, ignore_errors=True)
            raise
        lines = describe_plan(change, items)
        journal.update(state="committed", palette=np.asarray(palette).tolist(),
                       files=[[item.kind, _file(item)] for item in items],
                       rows={item.name: [item.after, item.pixels] for item in items if item.kind == "labels"})
        atomic_write_text(folder / JOURNAL, json.dumps(journal))  # the commit point
        _finish(project.root, journal, project.db)
    project.codes[:] = change.new
    project.void_index = _void(change.new)
    project._palette = None  # noqa: SLF001 - read again from the record
    project.records()  # the record re-reads the masks whose files moved
    return lines


def _unique_time(root: Path) -> str:
    """A time no earlier change used (two changes within a second get -1, -2, ...)."""
    base = time.strftime("%Y%m%d-%H%M%S")
    stamp_time, n = base, 1
    while (root / "models" / f"codes-{stamp_time}.txt").exists() or (root / STATE_DIR / f"classes-{stamp_time}").exists():
        stamp_time, n = f"{base}-{n}", n + 1
    return stamp_time


def _void(names):
    from .codes import find_void

    return find_void(names)


def _file(item: Rewrite) -> str:
    return f"{item.name}{MASK_SUFFIX}" if item.kind == "labels" else item.name


def _target(root: Path, kind: str, filename: str) -> Path:
    from . import layout

    return (layout.labels_dir(root) if kind == "labels" else root / STATE_DIR / PROPOSALS_DIR) / filename


def _finish(root: Path, journal: dict, db: Record) -> None:
    """Step 3 (see the module doc); every part may have been done before a crash, so each is repeatable."""
    folder = root / STATE_DIR / CHANGE_DIR
    for n, (kind, filename) in enumerate(journal["files"]):
        new, old, target = folder / "new" / kind / filename, folder / "old" / kind / filename, _target(root, kind,
                                                                                                      filename)
        if not new.exists():
            continue  # moved before a crash
        old.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not old.exists():
            os.replace(target, old)
        os.replace(new, target)
        _crash_point("swap", n + 1)
    models = root / "models"
    models.mkdir(exist_ok=True)
    version = models / f"codes-{journal['time']}"
    write_codes(version.with_suffix(".txt"), journal["old"])
    atomic_write_text(version.with_suffix(".json"), json.dumps(
        {"op": journal["op"], "what": journal["summary"], "old": journal["old"], "new": journal["new"],
         "mapping": {name: journal["new"][j] for name, j in zip(journal["old"], journal["mapping"], strict=True)}},
        indent=1) + "\n")
    write_codes(root / "codes.txt", journal["new"])
    rows = []
    for name, (status, pixels) in journal["rows"].items():
        with contextlib.suppress(FileNotFoundError):
            rows.append((name, {"status": status, "pixels": pixels, **stat_values(_target(
                root, "labels", f"{name}{MASK_SUFFIX}").stat())}))
    with db.transaction():
        db.set_meta("codes", journal["new"])
        db.set_meta("palette", journal["palette"])
        db.put_many(rows)
    os.replace(folder, root / STATE_DIR / f"classes-{journal['time']}")


def finish_interrupted(root: Path) -> list[str]:
    """At open, before codes.txt is read: finish a change that was committed, undo one that was not; the
    warnings to show (none when there was nothing to do)."""
    folder = root / STATE_DIR / CHANGE_DIR
    if not folder.is_dir():
        return []
    try:
        with flocked(root / STATE_DIR / "lock"):
            if not folder.is_dir():  # another process finished it while this one waited
                return []
            try:
                journal = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                journal = {"state": "staging"}
            if journal.get("state") != "committed":
                shutil.rmtree(folder)
                return [f"{folder}: a class-list change was interrupted before it took effect; it was undone "
                        "(codes.txt and every mask are as they were)"]
            db = Record(root / STATE_DIR / DB_FILE)
            try:
                _finish(root, journal, db)
            finally:
                db.close()
    except OSError as exc:
        raise DatasetError(folder, f"an interrupted class-list change cannot be finished ({exc.strerror or exc}); "
                                   "make the folder writable and open the dataset again") from exc
    return [f"{root / 'codes.txt'}: the interrupted class-list change ({journal['op']}: {journal['summary']}) "
            "was finished; " + " ".join(journal["new"])]


# ---- the list the record remembers -----------------------------------------------------------------
def remembered_codes(root: Path) -> list[str] | None:
    """The class list the dataset was last opened or changed with (the record's ``codes``), read without
    changing anything; None when the record does not know one (a new dataset, or an older labeltool)."""
    from .readonly_db import read_only_connection

    db = root / STATE_DIR / DB_FILE
    if not db.is_file():
        return None
    try:
        with read_only_connection(db) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='codes'").fetchone()
    except Exception:  # noqa: BLE001 - an unreadable record is rebuilt by the open; it remembers nothing
        return None
    try:
        value = json.loads(row[0]) if row else None
    except ValueError:
        return None
    return [str(n) for n in value] if isinstance(value, list) and value else None


def check_codes(root: Path, names: list[str]) -> None:
    """CodesError naming codes.txt when it differs from the remembered list in a way that would give the
    masks another meaning (anything but classes added at the end); nothing is written."""
    from model.errors import CodesError

    from .codes import describe_change

    old = remembered_codes(root)
    change = describe_change(old, names) if old is not None else None
    if change is None:
        return
    what, op = change
    raise CodesError(root / "codes.txt", (
        f"changed since the dataset was last opened: {what}. Masks store class numbers (line N of codes.txt "
        f"is class N-1), so every mask would change meaning; nothing was opened or changed. To make this change "
        f"on purpose, put the list back (labeltool classes {root} restore) and run labeltool classes {root} {op}: "
        f"it rewrites every mask so that each pixel keeps its meaning. Only if the masks were made for the new "
        f"list: labeltool classes {root} accept"))


def remember_codes(project, notes: list[str] = ()):
    """The record remembers the list the project opened with (after :func:`check_codes` passed); the
    project, with ``notes`` (what :func:`finish_interrupted` said) among its warnings."""
    project.warnings += list(notes)
    if project.writable and project.db.get_meta("codes") != project.codes:
        with contextlib.suppress(Exception):
            project.db.set_meta("codes", list(project.codes))
    return project


def same_codes(project) -> None:
    """CodesError when the record's list no longer starts with the one ``project`` opened with (``labeltool
    classes`` ran in another process meanwhile): a mask written now would hold the old numbers. Classes
    added at the end change no number, so they are fine. Callers hold the lock."""
    from model.errors import CodesError

    remembered = project.db.get_meta("codes")
    if isinstance(remembered, list) and remembered[:len(project.codes)] != project.codes:
        raise CodesError(project.root / "codes.txt", f"the class list was changed since this dataset was opened "
                                                     f"(now {' '.join(remembered)}); nothing was saved. Open the "
                                                     "dataset again")


def restore_codes(root: Path) -> list[str]:
    """Write the remembered list back into codes.txt (the old file is kept as codes.txt.edited-TIME)."""
    old = remembered_codes(root)
    if old is None:
        raise DatasetError(root / STATE_DIR / DB_FILE, "remembers no class list; nothing to restore")
    with flocked(root / STATE_DIR / "lock"):
        current = root / "codes.txt"
        if current.exists():
            aside = current.with_name(f"codes.txt.edited-{time.strftime('%Y%m%d-%H%M%S')}")
            atomic_write_bytes(aside, current.read_bytes())
        write_codes(current, old)
    return old


def accept_codes(root: Path, names: list[str]) -> list[str] | None:
    """Remember codes.txt as it is: the masks' numbers are meant for it (their meaning changes); the list
    the record remembered before, or None."""
    with flocked(root / STATE_DIR / "lock"):
        old = remembered_codes(root)
        db = Record(root / STATE_DIR / DB_FILE)
        try:
            db.set_meta("codes", list(names))
            if old is not None and len(old) != len(names):
                db.set_meta("palette", None)
        finally:
            db.close()
    return old


__all__ = ["accept_codes", "apply", "check_codes", "finish_interrupted", "remember_codes", "remembered_codes",
           "restore_codes", "same_codes"]

"""Reading a SQLite database without changing its folder (``check`` and ``export`` promise that).

A plain ``mode=ro`` connection to a database in WAL mode still creates ``NAME-wal`` and ``NAME-shm``
beside it when no writer has them open, and they stay behind. So, by what is there:

- no ``-wal`` file: no writer is active and everything is in the main file: it is opened with
  ``immutable=1``, which reads the file and creates, locks and changes nothing;
- ``-wal`` and ``-shm`` both there (a writer is active, or one was killed): ``mode=ro``, which uses
  them as they are (and creates nothing new);
- otherwise (a ``-wal`` without its ``-shm``, or a read-only open that fails): the database and its
  ``-wal`` are copied to a temporary folder and read there.

``read_statuses`` gives a dataset's statuses (the one rule, ``model.project.status``) this way.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .layout import unchecked_marks
from .legacy import legacy_status, read_legacy_state
from .record import DB_FILE
from .status import STATE_DIR, reconcile


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path))}?{query}"


@contextlib.contextmanager
def read_only_connection(db: str | Path) -> Iterator[sqlite3.Connection]:
    """A connection to ``db`` that leaves its folder byte-for-byte unchanged (see the module doc).
    sqlite3.Error when the database cannot be read at all."""
    db = Path(db)
    wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
    if not wal.exists():
        conn = sqlite3.connect(_uri(db, immutable="1"), uri=True)
        try:
            yield conn
        finally:
            conn.close()
        return
    if shm.exists():
        conn = None
        try:
            conn = sqlite3.connect(_uri(db, mode="ro"), uri=True)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails here when it cannot read
        except sqlite3.Error:
            if conn is not None:
                conn.close()
            conn = None
        if conn is not None:
            try:
                yield conn
            finally:
                conn.close()
            return
    with tempfile.TemporaryDirectory(prefix="labeltool-ro-") as tmp:
        copy = Path(tmp) / db.name
        shutil.copyfile(db, copy)
        with contextlib.suppress(FileNotFoundError):  # checkpointed and removed meanwhile: the main file has it
            shutil.copyfile(wal, f"{copy}-wal")
        conn = sqlite3.connect(str(copy))
        try:
            yield conn
        finally:
            conn.close()


def read_statuses(root: Path, names) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Statuses without writing anything (``check``/``export`` on a dataset they must not change), and
    the saved palette if any: the record is opened read-only when it exists."""
    rows: dict[str, tuple] = {}
    palette = None
    db = Path(root) / STATE_DIR / DB_FILE
    if db.exists():
        try:
            with read_only_connection(db) as conn:  # leaves no -wal/-shm behind
                columns = {r[1] for r in conn.execute("PRAGMA table_info(images)")}
                extra = "inode, ctime_ns" if {"inode", "ctime_ns"} <= columns else "NULL, NULL"
                rows = {r[0]: r[1:] for r in conn.execute(f"SELECT name, status, size, mtime_ns, pixels, {extra} "
                                                          "FROM images")}
                found = conn.execute("SELECT value FROM meta WHERE key='palette'").fetchone()
                palette = json.loads(found[0]) if found else None
        except (sqlite3.Error, OSError, ValueError):
            rows, palette = {}, None
    legacy = None
    if not db.exists():  # never opened by this version: labeltool 0.1's record decides for unstamped masks
        state, _problem = read_legacy_state(Path(root) / STATE_DIR)
        if state is not None:
            palette = state.get("palette") if isinstance(state, dict) else None
            legacy = lambda name, st: legacy_status(state, name, st)  # noqa: E731
    marks = unchecked_marks(Path(root), [])
    if marks is not None:  # an export's unchecked masks stay unchecked, also for check and export
        before = legacy
        legacy = lambda name, st: marks(name) or (before(name, st) if before else None)  # noqa: E731
    statuses, _ = reconcile(Path(root), names, rows, [], legacy)
    return statuses, palette

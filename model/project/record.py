"""The project's index: one SQLite database (WAL) with one row per image, in ``.labeltool/record.sqlite``.

The mask files are the truth (see :mod:`model.project.provenance`); this index remembers, per image, what was
established about its mask file (status, the file's size and mtime when that was established, its
pixel hash), who proposed or corrected it and when, and the proposal's confidence summary. Every
update touches one row (O(1) in the number of images); a proposal run writes in batched transactions.
Each connection belongs to one thread; SQLite's own locking makes concurrent processes safe.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from model.errors import DatasetError

from .mounts import journal_mode, network_share

SCHEMA_VERSION = 2  # 2: inode and ctime_ns (a row is trusted only while its file's stat is unchanged)
DB_FILE = "record.sqlite"
HOLD_EXPIRY_S = 12 * 3600  # a hold older than this no longer counts, whoever left it (a crashed editor elsewhere)
HOLD_REFRESH_S = 3600  # a live editor holds its image again this often, well inside the expiry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    inode INTEGER,
    ctime_ns INTEGER,
    pixels TEXT,
    model TEXT,
    mean_confidence REAL,
    unsure_fraction REAL,
    entropy REAL,
    margin REAL,
    corrected_by TEXT,
    corrected_at TEXT,
    proposed_at TEXT,
    updated_at TEXT,
    serial INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS images_serial ON images (serial);
CREATE TABLE IF NOT EXISTS holds (name TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, since REAL);
"""


@dataclass
class ImageRecord:
    """One image's record (what ``labeltool status`` prints)."""

    name: str
    status: str = "none"
    size: int | None = None
    mtime_ns: int | None = None
    inode: int | None = None
    ctime_ns: int | None = None
    pixels: str | None = None
    model: str | None = None
    mean_confidence: float | None = None
    unsure_fraction: float | None = None
    entropy: float | None = None
    margin: float | None = None
    corrected_by: str | None = None
    corrected_at: str | None = None
    proposed_at: str | None = None
    updated_at: str | None = None
    serial: int = 0

    def public(self) -> dict[str, Any]:
        """The fields a person or a script cares about (no file stat)."""
        skip = {"size", "mtime_ns", "inode", "ctime_ns", "pixels", "serial"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


COLUMNS = [f.name for f in fields(ImageRecord)]


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Record:
    """Thread-local connections to one project's database."""

    def __init__(self, path: Path | None):
        self.path = path  # None: an in-memory index (read-only folder); nothing persists
        self._local = threading.local()
        self._memory: sqlite3.Connection | None = None
        self._memory_lock = threading.RLock()
        self.warnings: list[str] = []
        self._open_checked()

    # ---- connections -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            if self._memory is None:
                self._memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
                self._memory.executescript(_SCHEMA)
            return self._memory
        conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        mode = self._journal_mode()
        if mode == "WAL":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        else:  # a network share: a rollback journal (leaving WAL needs the database to itself; else it stays)
            with contextlib.suppress(sqlite3.OperationalError):
                conn.execute(f"PRAGMA journal_mode={mode}")
            conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _journal_mode(self) -> str:
        """WAL on a local disk, a rollback journal on a network share (model.project.mounts decides, once per
        record); a share is said in ``warnings``."""
        mode = getattr(self, "_journal", None)
        if mode is None:
            mode = self._journal = journal_mode(self.path.parent)
            warning = share_warning(self.path.parent) if mode != "WAL" else None
            if warning:
                self.warnings.append(warning)
        return mode

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            self._local.depth = 0
        return conn

    def _open_checked(self) -> None:
        """Create or check the schema; a corrupt database is moved aside (named) and rebuilt."""
        try:
            self._create()
        except sqlite3.DatabaseError as exc:
            if self.path is None:
                raise
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            self._local = threading.local()
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    Path(str(self.path) + suffix).rename(str(aside) + suffix)
            self.warnings.append(f"{self.path}: unreadable ({exc}); moved to {aside.name} and rebuilt from the "
                                 "mask files (proposals stay proposals: their files say so)")
            self._create()

    def _create(self) -> None:
        conn = self.conn
        conn.executescript(_SCHEMA)
        version = self.get_meta("schema_version")
        if version is not None and int(version) > SCHEMA_VERSION:
            raise DatasetError(self.path, f"written by a newer labeltool (schema {version}, this one knows "
                                          f"{SCHEMA_VERSION}); update labeltool")
        if version is None or int(version) < SCHEMA_VERSION:
            self._migrate(conn)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring an older index up to this schema (columns added; their rows are re-checked once)."""
        with self.transaction():
            have = {row[1] for row in conn.execute("PRAGMA table_info(images)")}
            for column, kind in (("inode", "INTEGER"), ("ctime_ns", "INTEGER")):
                if column not in have:
                    conn.execute(f"ALTER TABLE images ADD COLUMN {column} {kind}")
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                         (json.dumps(SCHEMA_VERSION),))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn is not self._memory:
            conn.close()
        self._local = threading.local()

    # ---- transactions ------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """A write transaction (nested calls join the outer one)."""
        conn = self.conn
        lock = self._memory_lock if self.path is None else contextlib.nullcontext()
        with lock:
            depth = getattr(self._local, "depth", 0)
            if depth == 0:
                conn.execute("BEGIN IMMEDIATE")
            self._local.depth = depth + 1
            try:
                yield conn
            except BaseException:
                self._local.depth = depth
                if depth == 0:
                    conn.execute("ROLLBACK")
                raise
            self._local.depth = depth
            if depth == 0:
                conn.execute("COMMIT")

    def _next_serial(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key='serial'").fetchone()
        serial = (int(row[0]) if row else 0) + 1
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('serial', ?)", (str(serial),))
        return serial

    # ---- meta and settings -------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            return default

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # ---- rows --------------------------------------------------------------------------------
    def get(self, name: str) -> ImageRecord | None:
        row = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM images WHERE name=?", (name,)).fetchone()
        return None if row is None else ImageRecord(*row)

    def all(self) -> dict[str, ImageRecord]:
        rows = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM images").fetchall()
        return {row[0]: ImageRecord(*row) for row in rows}

    def stats(self) -> dict[str, tuple]:
        """name -> (status, size, mtime_ns, pixels, inode, ctime_ns): what opening a project compares with
        the files."""
        rows = self.conn.execute("SELECT name, status, size, mtime_ns, pixels, inode, ctime_ns FROM images").fetchall()
        return {row[0]: row[1:] for row in rows}

    def put(self, name: str, **values: Any) -> None:
        """Insert or update one row's given columns (others keep their value) and bump its serial."""
        self.put_many([(name, values)])

    def put_many(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Many rows in one transaction under one new serial (rows with the same fields in one statement)."""
        if not rows:
            return
        now = now_iso()
        groups: dict[tuple[str, ...], list[tuple]] = {}
        for name, values in rows:
            values = {**values, "updated_at": values.get("updated_at") or now}
            unknown = set(values) - set(COLUMNS)
            if unknown:
                raise ValueError(f"unknown record fields {sorted(unknown)}")
            groups.setdefault(tuple(values), []).append((name, *values.values()))
        with self.transaction() as conn:
            serial = self._next_serial(conn)
            for keys, params in groups.items():
                cols = ["name", *keys, "serial"]
                updates = ", ".join(f"{c}=excluded.{c}" for c in (*keys, "serial"))
                conn.executemany(f"INSERT INTO images ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                                 f"ON CONFLICT(name) DO UPDATE SET {updates}", [(*p, serial) for p in params])

    def delete(self, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM images WHERE name=?", (name,))

    def changed_since(self, serial: int) -> tuple[int, list[str]]:
        rows = self.conn.execute("SELECT name, serial FROM images WHERE serial > ? ORDER BY serial", (serial,)).fetchall()
        top = max([serial, *(s for _, s in rows)])
        return top, [name for name, _ in rows]

    # ---- holds (the image open in an editor; proposals skip it) ------------------------------
    def hold(self, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO holds (name, pid, host, since) VALUES (?, ?, ?, ?)",
                         (name, os.getpid(), _host(), time.time()))

    def release(self, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM holds WHERE name=? AND pid=? AND host=?", (name, os.getpid(), _host()))

    def holder(self, name: str) -> Hold | None:
        """Who holds the image open in an editor, or None. A hold is stale, and removed, when its editor
        on this machine is gone, or when it is older than HOLD_EXPIRY_S (an editor that crashed on another
        machine; a live editor holds its image again every HOLD_REFRESH_S)."""
        row = self.conn.execute("SELECT pid, host, since FROM holds WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        hold = Hold(name, *row)
        expired = hold.since is None or time.time() - hold.since > HOLD_EXPIRY_S
        if expired or (hold.host == _host() and not _alive(hold.pid)):
            with contextlib.suppress(sqlite3.Error):
                with self.transaction() as conn:
                    conn.execute("DELETE FROM holds WHERE name=? AND pid=? AND host=? AND since IS ?",
                                 (name, hold.pid, hold.host, hold.since))
            return None
        return hold

    def held(self, name: str) -> bool:
        return self.holder(name) is not None


@dataclass(frozen=True)
class Hold:
    """An image open in an editor: which process on which machine, since when (seconds since the epoch)."""

    name: str
    pid: int
    host: str
    since: float | None

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since)) if self.since else "an unknown time"
        return f"open in an editor on {self.host} (process {self.pid}) since {when}"


def share_warning(folder: str | Path) -> str | None:
    """What ``status``, ``check`` and the app say when a dataset's folder is on a network share (None
    on a local disk)."""
    share = network_share(folder)
    if share is None:
        return None
    return (f"{folder}: on a network share ({share}); the record keeps a rollback journal there (SQLite's WAL "
            f"does not work across machines), and an image held open by an editor on another machine is "
            f"released after {HOLD_EXPIRY_S // 3600} h")


def _host() -> str:
    import socket

    return socket.gethostname()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True

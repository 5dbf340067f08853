"""Is a folder on a network share? SQLite's WAL mode needs shared memory between every process that opens
the database, which does not exist across machines on NFS, SMB/CIFS or FUSE file systems such as sshfs
(SQLite's own documentation: "WAL does not work over a network filesystem"). ``journal_mode`` is the one
answer :mod:`model.project.record` asks: ``"WAL"`` on a local disk, ``"DELETE"`` (a rollback journal, which works
wherever the share's file locks do) on a share.

Linux: the mount with the longest mount point containing the folder, from ``/proc/self/mountinfo``.
macOS: the same from the output of ``mount``. Windows: a UNC path (``\\\\server\\share``) or a drive that
``GetDriveTypeW`` calls remote. Elsewhere, or when none of that can be read, the folder counts as local.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# file system types of network shares (Linux mountinfo and macOS mount names)
NETWORK_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "afs", "afpfs", "ncpfs", "9p", "ceph",
    "glusterfs", "lustre", "gpfs", "beegfs", "ocfs2", "gfs2", "davfs", "webdav", "coda", "sshfs",
    "osxfuse", "macfuse", "fuse",
})
LOCAL_FUSE = frozenset({"fuseblk"})  # a local disk (NTFS through ntfs-3g): not a share


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str
    source: str

    @property
    def network(self) -> bool:
        kind = self.fstype.lower()
        if kind in LOCAL_FUSE:
            return False
        return kind in NETWORK_TYPES or kind.startswith("fuse.")  # fuse.sshfs, fuse.rclone, fuse.s3fs, ...

    def describe(self) -> str:
        return f"{self.fstype} {self.source} at {self.point}"


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes (\\040 ...)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts of a Linux ``/proc/self/mountinfo`` text, in its order (later mounts cover earlier ones)."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 2:
            continue
        mounts.append(Mount(_unescape(fields[4]), tail[0], _unescape(tail[1])))
    return mounts


_MOUNT_LINE = re.compile(r"^(?P<source>.+?) on (?P<point>/.*?) \((?P<fstype>[^,)]+)")


def parse_mount_output(text: str) -> list[Mount]:
    """The mounts of macOS/BSD ``mount`` output: ``server:/export on /Volumes/x (nfs, nodev, ...)``."""
    mounts = []
    for line in text.splitlines():
        found = _MOUNT_LINE.match(line.strip())
        if found:
            mounts.append(Mount(found["point"], found["fstype"].strip(), found["source"]))
    return mounts


def mount_of(folder: str | Path, mounts: list[Mount]) -> Mount | None:
    """The mount the folder lies on: the longest mount point containing it (the last one mounted there)."""
    path = os.path.abspath(os.fspath(folder))
    best: Mount | None = None
    for mount in mounts:
        point = mount.point.rstrip("/") or "/"
        inside = path == point or path.startswith(point + "/") or point == "/"
        if inside and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = mount
    return best


@functools.lru_cache(maxsize=1)
def _system_mounts() -> tuple[Mount, ...]:
    try:
        if sys.platform.startswith("linux"):
            with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
                return tuple(parse_mountinfo(fh.read()))
        if sys.platform == "darwin" or "bsd" in sys.platform:
            done = subprocess.run(["mount"], capture_output=True, text=True, timeout=5, check=False)
            return tuple(parse_mount_output(done.stdout))
    except (OSError, subprocess.SubprocessError):
        pass
    return ()


def _windows_share(path: str) -> str | None:  # pragma: no cover - Windows only
    if path.startswith(("\\\\", "//")):
        return f"the network path {path}"
    try:
        import ctypes

        drive = os.path.splitdrive(path)[0] + "\\"
        if ctypes.windll.kernel32.GetDriveTypeW(drive) == 4:  # DRIVE_REMOTE
            return f"the network drive {drive}"
    except (AttributeError, OSError):
        pass
    return None


def network_share(folder: str | Path, mountinfo: str | None = None) -> str | None:
    """A description of the network share ``folder`` is on ("nfs4 server:/export at /mnt/data"), or None
    on a local disk. ``mountinfo``: a Linux mountinfo text to use instead of this machine's (tests)."""
    path = os.path.realpath(os.fspath(folder))
    if mountinfo is None and sys.platform == "win32":  # pragma: no cover
        return _windows_share(path)
    mounts = parse_mountinfo(mountinfo) if mountinfo is not None else list(_system_mounts())
    mount = mount_of(path, mounts)
    return mount.describe() if mount is not None and mount.network else None


def journal_mode(folder: str | Path, mountinfo: str | None = None) -> str:
    """The SQLite journal mode for a database in ``folder``: "WAL" on a local disk, "DELETE" on a share."""
    return "DELETE" if network_share(folder, mountinfo) else "WAL"

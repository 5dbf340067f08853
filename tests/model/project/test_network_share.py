"""Datasets on a network share (issue 16, item 10): the record keeps a rollback journal there (SQLite's WAL
does not work across machines), ``status`` and ``check`` say so, and a hold left by a crashed editor on
another machine expires, while a fresh one blocks proposals naming that machine and since when."""

from __future__ import annotations

import time

import numpy as np
import pytest
from _inference_data import make_project

from labeltool.cli import main
from model.project import mounts
from model.project.mounts import journal_mode, mount_of, network_share, parse_mount_output, parse_mountinfo
from model.project.project import Project, ProposalRefused
from model.project.record import HOLD_EXPIRY_S

LOCAL = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
28 27 8:17 / /home rw,relatime - ext4 /dev/sdb1 rw
29 27 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw
"""


def _fake(kind: str, point: str, source: str) -> str:
    return LOCAL + f"40 27 0:50 / {point} rw,relatime shared:9 - {kind} {source} rw,vers=4.2\n"


@pytest.mark.parametrize("kind, source", [("nfs4", "filer:/export/data"), ("nfs", "filer:/data"),
                                          ("cifs", "//filer/share"), ("smb3", "//filer/share"),
                                          ("fuse.sshfs", "me@host:/data"), ("fuse.rclone", "s3:bucket")])
def test_a_folder_under_a_share_is_on_a_share_and_gets_a_rollback_journal(kind, source):
    text = _fake(kind, "/mnt/team", source)
    assert network_share("/mnt/team/camvid/.labeltool", text) == f"{kind} {source} at /mnt/team"
    assert journal_mode("/mnt/team/camvid", text) == "DELETE"
    assert journal_mode("/mnt/team", text) == "DELETE"


@pytest.mark.parametrize("folder", ["/mnt/teamwork/camvid", "/home/me/camvid", "/"])
def test_local_folders_and_lookalike_prefixes_keep_wal(folder):
    text = _fake("nfs4", "/mnt/team", "filer:/export")
    assert network_share(folder, text) is None
    assert journal_mode(folder, text) == "WAL"


def test_the_longest_and_latest_mount_point_decides():
    text = _fake("nfs4", "/mnt/team", "filer:/export") + "41 40 8:33 / /mnt/team/scratch rw - ext4 /dev/sdc1 rw\n"
    assert journal_mode("/mnt/team/scratch/ds", text) == "WAL"  # a local disk mounted inside the share
    assert journal_mode("/mnt/team/other/ds", text) == "DELETE"
    over = text + "42 27 0:51 / /mnt/team rw - ext4 /dev/sdd1 rw\n"  # a later mount on the same point covers it
    assert journal_mode("/mnt/team/other/ds", over) == "WAL"


def test_escaped_mount_points_and_local_fuse():
    text = LOCAL + "40 27 0:50 / /mnt/my\\040share rw - cifs //filer/a\\040b rw\n" \
                   "41 27 8:49 / /media/win rw - fuseblk /dev/sde1 rw\n"
    assert network_share("/mnt/my share/ds", text) == "cifs //filer/a b at /mnt/my share"
    assert network_share("/media/win/ds", text) is None  # ntfs-3g: a local disk through FUSE


def test_macos_mount_output():
    found = parse_mount_output("/dev/disk3s1 on / (apfs, local, journaled)\n"
                               "//me@filer/share on /Volumes/share (smbfs, nodev, nosuid, mounted by me)\n"
                               "filer:/export on /Volumes/nfs (nfs, asynchronous)\n")
    assert mount_of("/Volumes/share/ds", found).network and mount_of("/Volumes/nfs/ds", found).fstype == "nfs"
    assert not mount_of("/Users/me/ds", found).network


@pytest.fixture
def on_nfs(tmp_path, monkeypatch):
    """This test's tmp_path is "on NFS": the system's mount table is replaced by one with an nfs4 mount there."""
    text = _fake("nfs4", str(tmp_path), "filer:/export")
    monkeypatch.setattr(mounts, "_system_mounts", lambda: tuple(parse_mountinfo(text)))
    return tmp_path


def _journal(project: Project) -> str:
    return project.db.conn.execute("PRAGMA journal_mode").fetchone()[0]


def test_a_project_on_nfs_keeps_a_rollback_journal_and_says_so(on_nfs, capsys):
    root = make_project(on_nfs / "ds", count=3, labelled=(0,), valid=(0,))
    project = Project.open(root)
    assert _journal(project) == "delete"
    project.save_mask("img01", np.zeros((32, 32), np.uint8), "proposed", model="m")
    assert not (root / ".labeltool" / "record.sqlite-wal").exists()
    assert any("network share (nfs4 filer:/export" in w for w in project.warnings)
    project.db.close()
    assert main(["status", str(root)]) == 0
    assert "on a network share (nfs4 filer:/export" in capsys.readouterr().err
    assert main(["check", str(root)]) == 0
    assert "on a network share (nfs4 filer:/export" in capsys.readouterr().err


def test_a_wal_record_moved_onto_nfs_is_turned_into_a_rollback_journal(tmp_path, monkeypatch):
    root = make_project(tmp_path / "ds", count=3, labelled=(0,))
    local = Project.open(root)
    assert _journal(local) == "wal"
    local.db.close()
    text = _fake("nfs4", str(tmp_path), "filer:/export")
    monkeypatch.setattr(mounts, "_system_mounts", lambda: tuple(parse_mountinfo(text)))
    assert _journal(Project.open(root)) == "delete"


def test_a_local_project_keeps_wal(tmp_path):
    project = Project.open(make_project(tmp_path / "ds", count=2, labelled=()))
    assert _journal(project) == "wal"
    assert not any("network share" in w for w in project.warnings)


# ---- holds from other machines ------------------------------------------------------------------------
def _hold_from(project: Project, name: str, host: str, age_s: float) -> None:
    with project.db.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO holds (name, pid, host, since) VALUES (?, ?, ?, ?)",
                     (name, 4242, host, time.time() - age_s))


def test_a_hold_left_on_another_machine_expires_and_a_fresh_one_names_the_machine(tmp_path):
    project = Project.open(make_project(tmp_path / "ds", count=3, labelled=()))
    mask = np.zeros((32, 32), np.uint8)
    _hold_from(project, "img01", "other", 13 * 3600)  # a crashed editor on "other", 13 h ago
    assert HOLD_EXPIRY_S < 13 * 3600
    assert not project.is_held("img01")
    project.save_mask("img01", mask, "proposed", model="m")  # no longer blocks
    assert project.status("img01") == "proposed"

    _hold_from(project, "img02", "other", 60)  # an editor on "other" a minute ago: alive as far as we know
    assert project.is_held("img02")
    with pytest.raises(ProposalRefused) as info:
        project.save_mask("img02", mask, "proposed", model="m")
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - 60))
    assert "open in an editor on other (process 4242) since " in str(info.value)
    assert since[:13] in str(info.value)  # the date and hour it was held
    assert project.status("img02") == "none"


def test_holding_again_refreshes_a_hold(tmp_path):
    project = Project.open(make_project(tmp_path / "ds", count=2, labelled=()))
    project.hold("img01")
    with project.db.transaction() as conn:  # as if held for 11 h 59 min
        conn.execute("UPDATE holds SET since = since - ?", (HOLD_EXPIRY_S - 60,))
    project.hold("img01")  # the editor's timer (HOLD_REFRESH_S)
    with project.db.transaction() as conn:
        conn.execute("UPDATE holds SET since = since - 120")
    assert project.is_held("img01")



def test_predict_names_the_machine_whose_editor_holds_an_image(tmp_path):
    from labeltool.commands.predict import skip_reason

    project = Project.open(make_project(tmp_path / "ds", count=3, labelled=(0,)))
    _hold_from(project, "img01", "other", 60)
    _hold_from(project, "img02", "other", 13 * 3600)
    assert skip_reason(project, "img01").startswith("open in an editor on other (process 4242) since ")
    assert skip_reason(project, "img02") == "corrected or open in an editor"  # expired: not the reason

"""Bad state in a dataset's ``.labeltool`` folder: a clear error naming the path, nothing written outside
the lock, and the read-only commands (``check``, ``export``) leave the folder exactly as it was.

(issue 16, item 9: a folder where the lock file goes, a read-only ``.labeltool``, ``-wal``/``-shm`` left
behind by ``check`` and ``export``.)
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from _inference_data import make_project

from labeltool.cli import main
from model.errors import DatasetError
from model.project.project import Project
from model.project.readonly_db import read_only_connection, read_statuses
from model.project.record import Record
from model.training.train_lock import train_lock


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root with its mtime (ns) and size."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*"))}


def _labels(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "labels").iterdir())


# ---- a folder where the lock file goes ---------------------------------------------------------------
def test_a_folder_in_place_of_the_lock_stops_a_save_naming_it(tmp_path):
    root = make_project(tmp_path / "ds", count=3, labelled=(0,))
    project = Project.open(root)
    (root / ".labeltool" / "lock").mkdir()
    for status in ("proposed", "corrected"):
        with pytest.raises(DatasetError, match="is a folder") as info:
            project.save_mask("img01", np.zeros((32, 32), np.uint8), status, model="m")
        assert info.value.path == root / ".labeltool" / "lock"
        assert "Move the folder away" in str(info.value)
    assert _labels(root) == ["img00_P.png"]  # nothing written


def test_a_folder_in_place_of_the_lock_stops_predict_with_a_message_not_a_traceback(tmp_path, capsys):
    root = make_project(tmp_path / "ds", count=3, labelled=(0,))
    (root / ".labeltool" / "lock").mkdir(parents=True)
    code, _, err = _cli(capsys, "predict", root, "--device", "cpu")
    assert code == 2
    assert str(root / ".labeltool" / "lock") in err and "is a folder" in err and "Traceback" not in err
    assert _labels(root) == ["img00_P.png"]


def test_a_folder_in_place_of_the_training_lock_is_named(tmp_path):
    (tmp_path / "models" / ".train.lock").mkdir(parents=True)
    with pytest.raises(DatasetError, match="is a folder") as info, train_lock(tmp_path / "models"):
        pass
    assert info.value.path == tmp_path / "models" / ".train.lock"


# ---- a .labeltool that cannot be written -------------------------------------------------------------
@pytest.fixture
def unwritable_record(monkeypatch):
    """The record cannot be written, as in a read-only ``.labeltool`` (root writes into read-only folders,
    so SQLite's refusal is what is imitated): the project opens read-only."""
    real = Record.set_meta

    def refuse(self, key, value):
        if self.path is not None:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        real(self, key, value)

    monkeypatch.setattr(Record, "set_meta", refuse)


def test_an_unwritable_record_stops_predict_before_any_mask_is_written(tmp_path, capsys, unwritable_record):
    root = make_project(tmp_path / "ds", count=3, labelled=(0,))
    code, _, err = _cli(capsys, "predict", root, "--device", "cpu")
    assert code == 2
    assert f"{root / '.labeltool'}: cannot be written" in err and "nothing was proposed" in err
    assert "Traceback" not in err
    assert _labels(root) == ["img00_P.png"]
    assert not (root / ".labeltool" / "confidence").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_labeltool_folder_stops_predict_before_any_mask_is_written(tmp_path, capsys):
    root = make_project(tmp_path / "ds", count=3, labelled=(0,))
    Project.open(root).db.close()
    state = root / ".labeltool"
    state.chmod(0o555)
    try:
        code, _, err = _cli(capsys, "predict", root, "--device", "cpu")
    finally:
        state.chmod(0o755)
    assert code == 2 and str(state) in err and "Traceback" not in err
    assert _labels(root) == ["img00_P.png"]


def test_a_read_only_project_never_writes_a_mask_without_the_lock(tmp_path, unwritable_record):
    root = make_project(tmp_path / "ds", count=3, labelled=(0,))
    project = Project.open(root)
    assert not project.writable
    for status in ("proposed", "corrected"):
        with pytest.raises(DatasetError, match="cannot be written") as info:
            project.save_mask("img01", np.zeros((32, 32), np.uint8), status, model="m")
        assert info.value.path == root / ".labeltool"
    assert _labels(root) == ["img00_P.png"]


# ---- check and export change nothing ---------------------------------------------------------------
@pytest.fixture
def recorded(tmp_path) -> Path:
    """A dataset with a record (a proposal and a correction in it), its writer closed."""
    root = make_project(tmp_path / "ds", count=3, labelled=(0,), valid=(0,))
    project = Project.open(root)
    project.save_mask("img01", np.zeros((32, 32), np.uint8), "proposed", model="m")
    project.save_mask("img02", np.ones((32, 32), np.uint8), "corrected")
    project.db.close()
    assert not Path(f"{root}/.labeltool/record.sqlite-wal").exists()
    return root


def test_check_and_export_leave_the_dataset_folder_unchanged(recorded, tmp_path, capsys):
    before = _listing(recorded)
    code, out, _ = _cli(capsys, "check", recorded)
    assert code == 0, out
    assert _listing(recorded) == before  # no record.sqlite-wal/-shm, no changed mtime
    for fmt in ("fastai", "voc", "cvat-camvid", "coco"):
        code, out, _ = _cli(capsys, "export", recorded, tmp_path / fmt, "--format", fmt)
        assert code == 0, out
        assert _listing(recorded) == before, fmt


def test_the_read_only_reading_still_sees_the_record(recorded):
    statuses, _ = read_statuses(recorded, ["img00", "img01", "img02"])
    assert statuses == {"img00": "corrected", "img01": "proposed", "img02": "corrected"}
    with read_only_connection(recorded / ".labeltool" / "record.sqlite") as conn:
        assert conn.execute("SELECT status FROM images WHERE name='img01'").fetchone() == ("proposed",)


def test_check_beside_an_open_writer_creates_nothing(recorded, capsys):
    project = Project.open(recorded)  # the app has the dataset open: its -wal and -shm exist
    project.save_mask("img01", np.full((32, 32), 2, np.uint8), "proposed", model="m2")
    names = set(_listing(recorded))
    assert {".labeltool/record.sqlite-wal", ".labeltool/record.sqlite-shm"} <= names
    code, out, _ = _cli(capsys, "check", recorded)
    assert code == 0, out
    assert set(_listing(recorded)) == names
    with read_only_connection(recorded / ".labeltool" / "record.sqlite") as conn:  # sees the writer's commit
        assert conn.execute("SELECT model FROM images WHERE name='img01'").fetchone() == ("m2",)
    project.db.close()


def test_a_wal_without_its_shm_is_read_from_a_copy(tmp_path):
    db = tmp_path / "live" / "record.sqlite"
    db.parent.mkdir()
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (7)")
    left = tmp_path / "left"  # what a killed writer on another machine leaves: the db and its -wal
    left.mkdir()
    shutil.copyfile(db, left / db.name)
    shutil.copyfile(f"{db}-wal", left / f"{db.name}-wal")
    writer.close()
    before = _listing(left)
    with read_only_connection(left / db.name) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(7,)]
    assert _listing(left) == before

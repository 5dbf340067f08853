"""The annotation record: proposals stay proposals through copies, no writer overwrites a correction,
split lists keep their images out of training, labeltool 0.1 records migrate without guessing."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from model.errors import DatasetError
from model.images.imageio import read_mask, write_image, write_mask
from model.project.codes import write_codes
from model.project.project import Project, ProposalRefused
from model.project.provenance import read_provenance
from model.training.data import split_names

CODES = ["Sky", "Road", "Void"]
ROOT = Path(__file__).resolve().parents[3]


def make(root: Path, n: int = 6, size=(12, 16)) -> Path:
    write_codes(root / "codes.txt", CODES)
    rng = np.random.default_rng(0)
    for i in range(n):
        write_image(root / "images" / f"f{i}.png", rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    return root


def mask(value: int, size=(12, 16)) -> np.ndarray:
    return np.full(size, value, np.uint8)


def populated(root: Path) -> Project:
    """f0, f1 corrected by a person; f2, f3 proposed by a model; f4 an imported (foreign) mask; f5 none."""
    project = Project.open(make(root))
    project.save_mask("f0", mask(0), "corrected")
    project.save_mask("f1", mask(1), "corrected")
    project.save_mask("f2", mask(1), "proposed", model="model-a", summary={"mean_confidence": 0.7})
    project.save_mask("f3", mask(0), "proposed", model="model-a", summary={"mean_confidence": 0.9})
    write_mask(root / "labels" / "f4_P.png", mask(2))
    return project


EXPECTED = {"f0": "corrected", "f1": "corrected", "f2": "proposed", "f3": "proposed", "f4": "corrected",
            "f5": "none"}


def test_plain_cp_r_keeps_every_proposal_a_proposal(tmp_path):
    populated(tmp_path / "a")
    time.sleep(0.01)
    subprocess.run(["cp", "-r", str(tmp_path / "a"), str(tmp_path / "b")], check=True)  # new mtimes
    assert os.stat(tmp_path / "b/labels/f2_P.png").st_mtime_ns != os.stat(tmp_path / "a/labels/f2_P.png").st_mtime_ns
    copy = Project.open(tmp_path / "b")
    assert copy.statuses() == EXPECTED
    assert copy.record("f2").model == "model-a"
    train, _ = copy.training_names()
    assert sorted(train) == ["f0", "f1", "f4"]  # no proposal became training data


def test_deleted_record_folder_keeps_every_proposal_a_proposal(tmp_path):
    populated(tmp_path)
    shutil.rmtree(tmp_path / ".labeltool")
    assert Project.open(tmp_path).statuses() == EXPECTED


def test_a_proposal_edited_by_another_tool_that_keeps_the_chunk_is_unknown_and_never_trained_on(tmp_path):
    populated(tmp_path)
    path = tmp_path / "labels" / "f2_P.png"
    data = bytearray(path.read_bytes())
    # a tool that re-encodes other pixels but copies the text chunks over
    from model.images.imageio import encode_mask
    from model.project.provenance import stamp

    info = read_provenance(path).info
    other = stamp(encode_mask(mask(0), None), {k: v for k, v in info.items() if k != "pixels"}, with_pixels=False)
    other = other.replace(b'"source":"model"', b'"pixels":"' + info["pixels"].encode() + b'","source":"model"')
    assert other != bytes(data)
    path.write_bytes(other)
    project = Project.open(tmp_path)
    assert project.status("f2") == "unknown"  # a model's stamp that no longer matches: nobody checked it
    assert "f2" not in project.training_names()[0]


def test_accepting_a_proposal_writes_the_persons_provenance_so_copies_agree(tmp_path):
    project = populated(tmp_path)
    project.set_status("f2", "corrected")
    assert read_provenance(tmp_path / "labels" / "f2_P.png").source == "person"
    shutil.rmtree(tmp_path / ".labeltool")
    assert Project.open(tmp_path).status("f2") == "corrected"


def test_test_and_valid_images_are_never_trained_on(tmp_path):
    project = Project.open(make(tmp_path))
    for name in ("f0", "f1", "f2", "f3"):
        project.save_mask(name, mask(1), "corrected")
    (tmp_path / "valid.txt").write_text("f1.png\n")
    (tmp_path / "test.txt").write_text("f2.png\nf3\n")
    train, val, _ = split_names(Project.open(tmp_path))
    assert train == ["f0"] and val == ["f1"]
    (tmp_path / "valid.txt").write_text("f0.png\nf1.png\n")
    with pytest.raises(DatasetError, match="valid.txt"):
        split_names(Project.open(tmp_path))


_RACER = textwrap.dedent("""
    import sys, numpy as np
    from model.project import Project
    from model.inference.propose import propose_dataset
    from model.inference.predict import Prediction

    class Slow:
        classes = None
        model_name = "racer"
        def predict_many(self, images, **_options):
            return [Prediction(np.full(im.shape[:2], 2, np.uint8), np.full(im.shape[:2], 0.5, np.float32))
                    for im in images]

    project = Project.open(sys.argv[1])
    for _ in range(int(sys.argv[2])):
        propose_dataset(project, predictor=Slow(), batch_size=2)
    print("racer done")
""")


def test_a_predict_process_racing_the_apps_saves_never_overwrites_a_correction(tmp_path):
    root = make(tmp_path, n=12)
    project = Project.open(root)
    script = tmp_path / "racer.py"
    script.write_text(_RACER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racer = subprocess.Popen([sys.executable, str(script), str(root), "3"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    saved = []
    try:
        deadline = time.time() + 45
        i = 0
        while racer.poll() is None and time.time() < deadline:
            name = f"f{i % 12}"
            project.save_mask(name, mask(1), "corrected")  # the person's work: class 1 everywhere
            saved.append(name)
            i += 1
            time.sleep(0.02)
        out, err = racer.communicate(timeout=60)
    finally:
        racer.kill()
    assert "racer done" in out, err
    assert saved
    fresh = Project.open(root)
    for name in set(saved):
        assert fresh.status(name) == "corrected", name
        assert (read_mask(root / "labels" / f"{name}_P.png") == 1).all(), name


def test_a_held_image_is_left_alone_by_proposals_of_another_process(tmp_path):
    root = make(tmp_path, n=3)
    project = Project.open(root)
    project.save_mask("f1", mask(0), "proposed", model="m1")
    before = (root / "labels" / "f1_P.png").read_bytes()
    project.hold("f1")
    other = Project.open(root)  # another process would see the same record
    with pytest.raises(ProposalRefused, match="open in an editor"):
        other.save_mask("f1", mask(1), "proposed", model="m2")
    assert (root / "labels" / "f1_P.png").read_bytes() == before
    other.save_mask("f2", mask(1), "proposed", model="m2")
    project.release("f1")
    other.save_mask("f1", mask(1), "proposed", model="m2")
    assert Project.open(root).record("f1").model == "m2"


def test_legacy_project_json_migrates_without_guessing(tmp_path):
    root = make(tmp_path, n=5)
    for i in range(4):
        write_mask(root / "labels" / f"f{i}_P.png", mask(i % 3))
    st = {n: os.stat(root / "labels" / f"{n}_P.png").st_mtime_ns for n in ("f0", "f1", "f2", "f3")}
    (root / ".labeltool").mkdir()
    (root / ".labeltool" / "project.json").write_text(json.dumps({"version": 1, "images": {
        "f0": {"status": "corrected", "mtime_ns": st["f0"]},
        "f1": {"status": "proposed", "mtime_ns": st["f1"]},        # untouched 0.1 proposal
        "f2": {"status": "proposed", "mtime_ns": st["f2"] + 5},    # changed since: cannot tell
        "f3": "garbage"}, "palette": None}))
    (root / ".labeltool" / "uncertainty.json").write_text(json.dumps({"images": {"f1": {"mean_confidence": 0.4}}}))
    project = Project.open(root)
    assert project.statuses() == {"f0": "corrected", "f1": "proposed", "f2": "unknown", "f3": "unknown",
                                  "f4": "none"}
    assert project.record("f1").mean_confidence == pytest.approx(0.4)
    assert any("f3" in w for w in project.warnings)
    assert read_provenance(root / "labels" / "f1_P.png").source == "model"  # now travels with the file
    train, _ = project.training_names()
    assert train == ["f0"]
    # the unknown one keeps being unknown in a copy (same pixels), and Accept makes it a correction
    shutil.copytree(root, tmp_path / "copy", copy_function=shutil.copy)
    copy = Project.open(tmp_path / "copy")
    assert copy.status("f2") == "unknown"
    copy.set_status("f2", "corrected")
    assert copy.status("f2") == "corrected"


def test_garbage_legacy_record_marks_unstamped_masks_unknown_and_says_so(tmp_path):
    root = make(tmp_path, n=2)
    write_mask(root / "labels" / "f0_P.png", mask(1))
    (root / ".labeltool").mkdir()
    (root / ".labeltool" / "project.json").write_text("{not json")
    project = Project.open(root)
    assert project.status("f0") == "unknown"
    assert any("project.json" in w and "unknown" in w for w in project.warnings)


def test_corrupt_record_is_moved_aside_and_rebuilt_from_the_files(tmp_path):
    populated(tmp_path)
    db = tmp_path / ".labeltool" / "record.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    project = Project.open(tmp_path)
    assert project.statuses() == EXPECTED
    assert any("record.sqlite" in w and "moved to" in w for w in project.warnings)
    assert list((tmp_path / ".labeltool").glob("record.sqlite.corrupt-*"))


def test_state_folder_that_is_a_file_is_named(tmp_path):
    root = make(tmp_path, n=1)
    (root / ".labeltool").write_text("oops")
    with pytest.raises(DatasetError, match=r"\.labeltool.*is a file"):
        Project.open(root)


def test_changes_of_other_processes_are_seen_by_serial(tmp_path):
    project = populated(tmp_path)
    project.statuses()  # the imported f4 gets its row
    serial, _ = project.changed_since(0)
    other = Project.open(tmp_path)
    other.save_mask("f5", mask(1), "proposed", model="m")
    serial2, names = project.changed_since(serial)
    assert names == ["f5"] and serial2 > serial
    assert project.status("f5") == "proposed"


def test_record_updates_are_constant_time(tmp_path):
    """The bookkeeping of one proposal does not grow with the project (the old project.json did)."""
    project = Project.open(make(tmp_path, n=2))
    db = project.db

    def cost(n_rows: int) -> float:
        db.put_many([(f"x{i}", {"status": "proposed", "size": 1, "mtime_ns": 1}) for i in range(n_rows)])
        start = time.perf_counter()
        for i in range(200):
            db.put(f"y{i}", status="proposed", size=1, mtime_ns=1, mean_confidence=0.5)
        return time.perf_counter() - start

    small = cost(100)
    large = cost(20000)
    assert large < small * 5 + 0.2  # quadratic bookkeeping would be ~200x slower here


def test_settings_are_kept_with_the_project(tmp_path):
    project = Project.open(make(tmp_path, n=1))
    project.set_setting("working_scale", 0.5)
    assert Project.open(tmp_path).get_setting("working_scale") == 0.5
    with pytest.raises(TypeError):
        project.set_setting("bad", object())


def test_record_database_uses_wal(tmp_path):
    Project.open(make(tmp_path, n=1))
    conn = sqlite3.connect(tmp_path / ".labeltool" / "record.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_status_command_lists_the_record_of_a_copied_dataset(tmp_path, capsys):
    from labeltool.cli import main

    populated(tmp_path / "a")
    subprocess.run(["cp", "-r", str(tmp_path / "a"), str(tmp_path / "b")], check=True)
    assert main(["status", str(tmp_path / "b"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"none": 1, "proposed": 2, "edited": 0, "corrected": 3, "reviewed": 0, "rejected": 0,
                             "unknown": 0}
    f2 = next(row for row in out["images"] if row["name"] == "f2")
    assert f2["status"] == "proposed" and f2["model"] == "model-a" and f2["mean_confidence"] == pytest.approx(0.7)
    f0 = next(row for row in out["images"] if row["name"] == "f0")
    assert f0["corrected_by"] and f0["corrected_at"]


def test_wheel_ships_the_icon_and_desktop_entry():
    """The icon must travel in the wheel, not only in a source checkout (pyproject data-files)."""
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    files = data["tool"]["setuptools"]["data-files"]
    shipped = [ROOT / f for group in files.values() for f in group]
    assert any(p.name == "labeltool.svg" for p in shipped)
    assert all(p.exists() for p in shipped)


def test_records_after_open_reuse_the_check_only_while_nothing_was_written(tmp_path):
    project = Project.open(make(tmp_path, n=3))
    project.save_mask("f1", mask(1), "proposed", model="m")
    assert project.records()["f1"].status == "proposed"
    again = Project.open(tmp_path)
    assert again.records()["f1"].status == "proposed"

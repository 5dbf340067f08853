"""Malformed inputs, leftovers and permissions: clear errors naming the file, nothing silently wrong.

Model cards with wrong types; a broken newest model never replaced by an older one; stale temporaries
removed (and nothing else); ``check`` reporting looping and dangling links; files and exported folders
readable by the group under a group-sharing umask; a colour array told that masks are 2-D.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _inference_data import CODES, make_project, save_constant_model

from model.atomic import atomic_write_bytes, atomic_write_text
from model.datasets.check import check_dataset
from model.errors import ModelFileError
from model.images.imageio import mask_shape_problem
from model.inference.propose import propose_dataset
from model.project.housekeeping import is_temporary_name, remove_stale_temporaries
from model.project.project import Project
from model.registry.modelfile import latest_model, list_models, load_model, read_card

REPO = Path(__file__).resolve().parents[2]


# ---- model cards -------------------------------------------------------------------------------
def _write_card(path: Path, **changes) -> None:
    """Change keys of a saved model's card, keeping the card the newest file (completion order)."""
    card_file = path.with_suffix(".json")
    card = json.loads(card_file.read_text())
    card.update(changes)
    card_file.write_text(json.dumps(card))
    later = time.time() + 5
    os.utime(card_file, (later, later))


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """One real model file, copied by the tests that break it."""
    return save_constant_model(tmp_path_factory.mktemp("m") / "models", CODES, winner=2)


def _copy_model(source: Path, models: Path, stem: str) -> Path:
    models.mkdir(parents=True, exist_ok=True)
    weights = models / f"{stem}.safetensors"
    weights.write_bytes(source.read_bytes())
    weights.with_suffix(".json").write_text(source.with_suffix(".json").read_text())
    return weights


@pytest.mark.parametrize("key, value, words", [
    ("normalization", "imagenet", "normalization"),
    ("normalization", [0.5, 0.5, 0.5], "normalization"),
    ("normalization", {"kind": "robust", "channels": 3}, "normalization"),
    ("arch", 5, "arch"),
    ("encoder", None, "encoder"),
    ("input_size", "64", "input_size"),
    ("input_size", [64, -1], "input_size"),
    ("classes", [], "classes"),
])
def test_card_with_a_wrong_type_is_refused_naming_the_card(tmp_path, saved_model, key, value, words):
    weights = _copy_model(saved_model, tmp_path, "model-20260101-000000")
    _write_card(weights, **{key: value})
    for action in (read_card, load_model):
        with pytest.raises(ModelFileError, match=words) as info:
            action(weights)
        assert weights.with_suffix(".json").name in str(info.value)


def test_broken_newest_card_is_reported_not_replaced_by_an_older_model(tmp_path, saved_model):
    project = Project.open(make_project(tmp_path / "ds", count=3, labelled=(0,)))
    old = _copy_model(saved_model, project.models_dir, "model-20260101-000000")
    assert load_model(old).classes == CODES  # the old model would work
    new = _copy_model(saved_model, project.models_dir, "model-20260102-000000")
    _write_card(new, normalization="imagenet")
    assert list_models(project.models_dir) == [old, new] and latest_model(project.models_dir) == new
    with pytest.raises(ModelFileError, match="normalization") as info:
        propose_dataset(project, names=["img02"])
    assert new.with_suffix(".json").name in str(info.value)
    assert project.status("img02") == "none"  # the older model did not step in
    # the broken model alone: named, not "no trained model yet"
    old.unlink()
    old.with_suffix(".json").unlink()
    with pytest.raises(ModelFileError) as info:
        propose_dataset(project, names=["img02"])
    assert new.with_suffix(".json").name in str(info.value) and "no trained model" not in str(info.value)


def test_card_that_is_not_json_is_listed_and_refused_naming_it(tmp_path, saved_model):
    weights = _copy_model(saved_model, tmp_path, "model-20260101-000000")
    weights.with_suffix(".json").write_text("{not json")
    assert latest_model(tmp_path) == weights
    with pytest.raises(ModelFileError, match="not valid JSON") as info:
        load_model(latest_model(tmp_path))
    assert weights.with_suffix(".json").name in str(info.value)


# ---- stale temporaries -------------------------------------------------------------------------
def _age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)
    return path


def test_a_killed_atomic_write_leaves_a_temporary_that_housekeeping_recognises(tmp_path):
    target = tmp_path / "models" / "model-20260101-000000.safetensors"
    code = ("import os, sys; from model.atomic import atomic_write;"
            "atomic_write(sys.argv[1], lambda tmp: (tmp.write_bytes(b'x' * 1000), os._exit(9)))")
    out = subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO, timeout=60)
    assert out.returncode == 9
    left = [p for p in target.parent.iterdir()]
    assert len(left) == 1 and left[0].name.startswith(".model-") and left[0].name.endswith(".tmp.safetensors")
    assert is_temporary_name(left[0].name)
    assert remove_stale_temporaries(tmp_path) == []  # fresh: may be a live write
    _age(left[0], 120)
    assert remove_stale_temporaries(tmp_path) == [left[0]] and not target.parent.joinpath(left[0].name).exists()


def test_stale_temporaries_go_and_nothing_else(tmp_path):
    root = tmp_path / "ds"
    stale = [
        root / "labels" / ".img01_P.png.abcd_123.tmp.png",
        root / ".labeltool" / ".project.json.k2j4h5g6.tmp.json",
        root / ".labeltool" / ".uncertainty.json.zz99yy88.tmp.json",
        root / ".labeltool" / "confidence" / ".img01.png.q1w2e3r4.tmp.png",
        root / "models" / ".model-20260101-000000.safetensors.a1b2c3d4.tmp.safetensors",
        root / "models" / ".checkpoint" / ".state.json.a1b2c3d4.tmp.json",
        root / ".valid.txt.a1b2c3d4.tmp.txt",
    ]
    kept = [
        root / "labels" / "img01_P.png",  # a mask
        root / "labels" / ".hidden-notes.tmp",  # not an atomic-write name
        root / ".labeltool" / "record.sqlite-wal",
        root / ".labeltool" / "record.sqlite",
        root / "models" / "model-20260101-000000.safetensors",
        root / "images" / ".img01.png.a1b2c3d4.tmp.png",  # images/ is not where labeltool writes
        root / "labels" / "deep" / "deeper" / ".x.png.a1b2c3d4.tmp.png",  # subfolders of labels/: not searched
    ]
    for path in stale + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        _age(path, 3600)
    fresh = root / "models" / ".model-20260102-000000.safetensors.b1b2c3d4.tmp.safetensors"
    fresh.write_bytes(b"a live write")
    target = root / "outside.png"
    target.write_bytes(b"x")
    link = root / "labels" / ".img02_P.png.a1b2c3d4.tmp.png"
    link.symlink_to(target)
    _age(link, 3600)
    removed = remove_stale_temporaries(root, older_than_s=60)
    assert sorted(removed) == sorted(stale)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept) and fresh.exists() and link.is_symlink() and target.exists()
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_project_open_removes_stale_temporaries(tmp_path):
    root = make_project(tmp_path / "ds", count=2, labelled=(0,))
    stale = root / "models" / ".model-20260101-000000.safetensors.a1b2c3d4.tmp.safetensors"
    stale.parent.mkdir()
    stale.write_bytes(b"x" * 1000)
    _age(stale, 3600)
    Project.open(root)
    assert not stale.exists()


# ---- check: links that lead nowhere --------------------------------------------------------------
def test_check_reports_looping_and_dangling_links_naming_each(tmp_path):
    root = make_project(tmp_path / "ds", count=3, labelled=(0, 1), valid=(0,))
    (root / "images" / "loop.png").symlink_to("loop.png")
    (root / "images" / "a.png").symlink_to("b.png")
    (root / "images" / "b.png").symlink_to("a.png")
    (root / "labels" / "img02_P.png").symlink_to(tmp_path / "nowhere" / "img02_P.png")
    report = check_dataset(root)
    assert not report.ok
    for path in (root / "images" / "loop.png", root / "images" / "a.png", root / "images" / "b.png",
                 root / "labels" / "img02_P.png"):
        assert sum(str(path) in problem for problem in report.problems) == 1, (path, report.problems)


@pytest.mark.parametrize("folder", ["images", "labels"])
def test_check_reports_a_looping_layout_folder(tmp_path, folder):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "codes.txt").write_text("A\nB\n")
    if folder == "labels":
        (root / "images").mkdir()
    (root / folder).symlink_to(folder)
    report = check_dataset(root)
    assert not report.ok
    assert any(str(root / folder) in p and "symbolic link" in p for p in report.problems), report.problems


# ---- permissions ---------------------------------------------------------------------------------
@pytest.fixture
def group_umask():
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_get_normal_permissions_and_keep_existing_ones(tmp_path, group_umask):
    new = atomic_write_text(tmp_path / "a.txt", "x")
    assert _mode(new) == 0o664
    existing = tmp_path / "b.txt"
    existing.write_text("old")
    existing.chmod(0o640)
    atomic_write_bytes(existing, b"new")
    assert _mode(existing) == 0o640 and existing.read_bytes() == b"new"


def test_saved_mask_and_exported_folder_are_group_readable(tmp_path, group_umask):
    from model.datasets.export_fastai import export_fastai

    root = make_project(tmp_path / "ds", count=2, labelled=(), valid=(0,))
    project = Project.open(root)
    path = project.save_mask("img00", np.zeros((32, 32), np.uint8), "corrected")
    assert _mode(path) & 0o060 == 0o060, oct(_mode(path))
    out = tmp_path / "export"
    export_fastai(root, out)
    assert _mode(out) & 0o070 == 0o070, oct(_mode(out))
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(_mode(p) & 0o040 for p in files), [(p.name, oct(_mode(p))) for p in files]
    assert all(_mode(p) & 0o050 == 0o050 for p in out.rglob("*") if p.is_dir())


# ---- mask shape message ----------------------------------------------------------------------------
def test_colour_mask_is_told_masks_are_2d_with_its_real_shape():
    message = mask_shape_problem(np.zeros((480, 360, 3), np.uint8), 360, 480)
    assert "2-D" in message and "(480, 360, 3)" in message and "does not match" not in message
    assert "360x480" in mask_shape_problem(np.zeros((480, 360), np.uint8), 640, 480)
    assert mask_shape_problem(np.zeros((480, 360), np.uint8), 360, 480) is None

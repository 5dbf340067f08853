"""A process killed mid-session loses at most the edits since the last autosave and never leaves a
torn mask PNG; on the next start the autosaved mask is there, as edited (a person's work, not checked)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.images.imageio import write_image
from model.project.codes import write_codes
from model.project.project import Project

CHILD = Path(__file__).resolve().parents[2] / "_crash_child.py"


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(root / "images" / f"img{i}.png", rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    write_codes(root / "codes.txt", ["Sky", "Road", "Void"])
    return root


def run_child(dataset, *extra, settle: float = 0.0):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, str(CHILD), str(dataset), "img1", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = child.stdout.readline()
    assert line.strip() == "READY", child.stderr.read()
    time.sleep(settle)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    return child


def test_kill_loses_only_edits_after_the_last_autosave(dataset):
    run_child(dataset)
    path = dataset / "labels" / "img1_P.png"
    with Image.open(path) as saved:
        mask = np.asarray(saved)
    assert mask[10, 10] == 1  # painted, then autosaved after idle
    assert mask[40, 70] == 2  # painted after the autosave: lost with the process, as promised (Void)
    project = Project.open(dataset)
    assert project.status("img1") == "edited"  # kept, never trained on until a person accepts it
    assert project.load_mask("img1")[10, 10] == 1


@pytest.mark.parametrize("settle", [0.05, 0.2, 0.45])
def test_kill_during_saves_never_leaves_a_torn_png(dataset, settle):
    run_child(dataset, "stress", settle=settle)
    path = dataset / "labels" / "img1_P.png"
    with Image.open(path) as saved:
        saved.load()  # a torn file would fail to decode here
        assert saved.size == (96, 64)
    project = Project.open(dataset)
    assert project.load_mask("img1")[10, 10] == 1


def test_temporaries_left_by_a_killed_write_are_removed_on_open(dataset):
    Project.open(dataset)
    stale = dataset / "labels" / ".img0_P.png.abc12_xy.tmp.png"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"\x89PNG half a file")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = dataset / "labels" / ".img1_P.png.def34_zw.tmp.png"  # maybe another process writing right now
    fresh.write_bytes(b"\x89PNG")
    project = Project.open(dataset)
    assert not stale.exists() and fresh.exists()
    assert project.status("img0") == "none"


_ACCEPT_CHILD = """
import sys, time
import numpy as np
from model.project import Project

project = Project.open(sys.argv[1])
remember = project._remember

def killed_before_the_record(name, **values):  # Accept's rename is done; its record update never comes
    if values.get("status") == "corrected":
        print("RENAMED", flush=True)
        time.sleep(60)
    remember(name, **values)

project._remember = killed_before_the_record
project.save_mask("img1", project.load_mask("img1"), "corrected")  # Accept of an untouched proposal
"""


def test_sigkill_between_accepts_rename_and_its_record_update_keeps_the_acceptance(dataset):
    from model.project.project import ProposalRefused

    project = Project.open(dataset)
    proposal = np.zeros((64, 96), np.uint8)
    proposal[:, 40:] = 1
    project.save_mask("img1", proposal, "proposed", model="m")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-c", _ACCEPT_CHILD, str(dataset)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = child.stdout.readline()
        assert line.strip() == "RENAMED", child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert project.db.get("img1").status == "proposed"  # the index never heard of the acceptance
    accepted = (dataset / "labels" / "img1_P.png").read_bytes()
    for fresh in (project, Project.open(dataset)):
        assert fresh.status("img1") == "corrected"
        assert "img1" in fresh.training_names()[0]
        with pytest.raises(ProposalRefused, match="img1_P.png"):
            fresh.save_mask("img1", np.full((64, 96), 2, np.uint8), "proposed", model="m2")
    assert (dataset / "labels" / "img1_P.png").read_bytes() == accepted
    assert Project.open(dataset).has_kept_proposal("img1")  # and Revert to proposal still can

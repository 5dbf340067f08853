"""Project folder rules: the mask files on disk are the truth, the record is their index."""

import os
import time

import numpy as np
import pytest
from PIL import Image

from labeltool.workspace.session import Session
from model.errors import ImageReadError, MaskError
from model.images.imageio import write_image, write_mask
from model.project.codes import write_codes
from model.project.project import NeedsCodesError, Project

CODES = ["Sky", "Road", "Void"]


def make(root, n=3, labelled=(0,), flat=False):
    images = root if flat else root / "images"
    rng = np.random.default_rng(1)
    for i in range(n):
        write_image(images / f"f{i}.png", rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    for i in labelled:
        write_mask(root / "labels" / f"f{i}_P.png", np.full((20, 30), i % 2, np.uint8))
    return root


def test_masks_present_at_first_open_are_corrected_and_others_have_none(tmp_path):
    write_codes(tmp_path / "codes.txt", CODES)
    project = Project.open(make(tmp_path))
    assert project.statuses() == {"f0": "corrected", "f1": "none", "f2": "none"}
    assert (tmp_path / ".labeltool" / "record.sqlite").exists()


def test_proposal_never_overwrites_a_corrected_mask(tmp_path):
    write_codes(tmp_path / "codes.txt", CODES)
    project = Project.open(make(tmp_path))
    before = (tmp_path / "labels" / "f0_P.png").read_bytes()
    with pytest.raises(MaskError, match="corrected"):
        project.save_mask("f0", np.zeros((20, 30), np.uint8), "proposed")
    assert (tmp_path / "labels" / "f0_P.png").read_bytes() == before
    project.save_mask("f1", np.ones((20, 30), np.uint8), "proposed")
    assert Project.open(tmp_path).status("f1") == "proposed"


def test_missing_mask_file_means_no_mask_whatever_the_state_says(tmp_path):
    write_codes(tmp_path / "codes.txt", CODES)
    project = Project.open(make(tmp_path))
    project.save_mask("f1", np.ones((20, 30), np.uint8), "proposed")
    (tmp_path / "labels" / "f1_P.png").unlink()
    (tmp_path / "labels" / "f0_P.png").unlink()
    assert Project.open(tmp_path).statuses() == {"f0": "none", "f1": "none", "f2": "none"}


def test_a_proposal_changed_by_another_tool_counts_as_corrected(tmp_path):
    write_codes(tmp_path / "codes.txt", CODES)
    project = Project.open(make(tmp_path))
    project.save_mask("f2", np.ones((20, 30), np.uint8), "proposed")
    path = tmp_path / "labels" / "f2_P.png"
    time.sleep(0.01)
    write_mask(path, np.zeros((20, 30), np.uint8))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert Project.open(tmp_path).status("f2") == "corrected"


def test_flat_folder_opens_and_masks_go_to_labels(tmp_path):
    make(tmp_path, labelled=(), flat=True)
    with pytest.raises(NeedsCodesError):
        Project.open(tmp_path)
    project = Project.open(tmp_path, codes=CODES)
    assert (tmp_path / "codes.txt").read_text().splitlines() == CODES
    assert project.names() == ["f0", "f1", "f2"]
    project.save_mask("f0", np.full((20, 30), 2, np.uint8), "corrected")
    with Image.open(tmp_path / "labels" / "f0_P.png") as saved:
        assert saved.mode == "P" and np.asarray(saved).max() == 2
    assert project.names() == ["f0", "f1", "f2"]  # a mask is never mistaken for an image


def test_bad_masks_are_refused_naming_the_file(tmp_path):
    write_codes(tmp_path / "codes.txt", CODES)
    project = Project.open(make(tmp_path, labelled=()))
    with pytest.raises(MaskError, match="does not match its image"):
        project.save_mask("f0", np.zeros((10, 10), np.uint8))
    with pytest.raises(MaskError, match="class index 7"):
        project.save_mask("f0", np.full((20, 30), 7, np.uint8))
    assert not (tmp_path / "labels" / "f0_P.png").exists()
    write_mask(tmp_path / "labels" / "f1_P.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(MaskError, match="f1_P.png.*5x5"):
        project.load_mask("f1")
    (tmp_path / "images" / "f2.png").write_bytes(b"not a png")
    with pytest.raises(ImageReadError, match="f2.png"):
        Session(project).load(2)


def test_session_accept_rules(tmp_path):
    write_codes(tmp_path / "codes.txt", CODES)
    project = Project.open(make(tmp_path))
    project.save_mask("f1", np.ones((20, 30), np.uint8), "proposed")
    session = Session(project)
    session.load(1)
    assert session.accept(project.load_mask("f1"), dirty=False)  # untouched proposal: marked as it is
    assert project.status("f1") == "corrected"
    session.load(2)
    assert not session.accept(None, dirty=False)  # no mask: nothing to accept
    assert project.status("f2") == "none"
    session.load(0)
    assert session.next_not_corrected() == 2


def test_palette_edits_are_saved_with_the_project(tmp_path):
    write_codes(tmp_path / "codes.txt", CODES)
    project = Project.open(make(tmp_path))
    palette = project.palette.copy()
    palette[1] = (1, 2, 3)
    project.set_palette(palette)
    assert tuple(Project.open(tmp_path).palette[1]) == (1, 2, 3)

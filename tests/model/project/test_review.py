"""Review (issue 19): a reviewer approves a corrected mask (reviewed: trained on) or rejects it with a note
(rejected: not trained on, the note readable); the verdict lives in the mask's own stamp and holds only
while its pixels are the ones reviewed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from _status_data import make, striped
from PIL import Image, PngImagePlugin

from model.errors import MaskError
from model.project.kept import STATUSES
from model.project.project import Project, ProposalRefused
from model.project.provenance import read_stamp
from model.project.status import KEPT, decide, read_provenance


def test_statuses_and_kept_know_the_review():
    assert STATUSES == ("none", "proposed", "edited", "corrected", "reviewed", "rejected", "unknown")
    assert "reviewed" in KEPT and "rejected" in KEPT


def test_review_round_trip(tmp_path):
    project = make(tmp_path)
    project.save_mask("f0", striped(0), "corrected")
    project.save_mask("f1", striped(1), "corrected")
    assert project.review("f0", "approved") == "reviewed"
    assert project.status("f0") == "reviewed"
    review = project.get_review("f0")
    assert review["verdict"] == "approved" and review["by"] and review["at"]
    assert project.training_names()[0] == ["f0", "f1"]  # reviewed and corrected are trained on

    assert project.review("f1", "rejected", note="  the road edge is  off ") == "rejected"
    assert project.get_review("f1")["note"] == "the road edge is off"
    assert project.training_names()[0] == ["f0"]  # a rejected mask is not trained on
    np.testing.assert_array_equal(project.load_mask("f1"), striped(1))  # the same pixels, re-stamped

    # a fresh open reads the verdict from the file itself (the record is only an index)
    (tmp_path / ".labeltool" / "record.sqlite").unlink()
    again = Project.open(tmp_path)
    assert again.statuses() == {"f0": "reviewed", "f1": "rejected", "f2": "none", "f3": "none"}

    # the annotator edits the rejected mask (autosave: edited), then accepts it: corrected again
    fixed = striped(1)
    fixed[0, 0] = (fixed[0, 0] + 1) % 3
    again.save_mask("f1", fixed, "edited")
    assert again.status("f1") == "edited" and again.get_review("f1") is None
    again.save_mask("f1", fixed, "corrected")
    assert again.status("f1") == "corrected"
    assert "review" not in read_stamp(again.label_path("f1"))


def test_only_a_corrected_mask_can_be_reviewed(tmp_path):
    project = make(tmp_path)
    with pytest.raises(MaskError, match="f0_P.png.*missing"):
        project.review("f0")
    project.save_mask("f0", striped(0), "proposed", model="m")
    with pytest.raises(MaskError, match="f0_P.png.*proposed"):
        project.review("f0")
    project.save_mask("f1", striped(1), "edited")
    with pytest.raises(MaskError, match="edited"):
        project.review("f1", "approved")
    project.save_mask("f2", striped(2), "corrected")
    with pytest.raises(MaskError, match="needs a note"):
        project.review("f2", "rejected", note="   ")
    assert project.status("f2") == "corrected"
    project.review("f2", "rejected", note="sky is wrong")
    assert project.review("f2", "approved") == "reviewed"  # a second reviewer may overrule
    with pytest.raises(ProposalRefused):
        project.save_mask("f2", striped(0), "proposed", model="m")  # a proposal never overwrites it
    with pytest.raises(ValueError):
        project.set_status("f2", "reviewed")


def _repaint_keeping_chunk(path):
    """Another tool changes one pixel and keeps the labeltool chunk."""
    with Image.open(path) as image:
        image.load()
        text = image.info["labeltool"]
        pixels = np.array(image)
        palette = image.getpalette()
    pixels[3, 3] = (pixels[3, 3] + 1) % 3
    out = Image.fromarray(pixels, "P")
    out.putpalette(palette)
    info = PngImagePlugin.PngInfo()
    info.add_text("labeltool", text)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", pnginfo=info)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize("verdict, note", [("approved", ""), ("rejected", "redo the car")])
def test_a_review_of_other_pixels_does_not_hold(tmp_path, verdict, note):
    project = make(tmp_path)
    project.save_mask("f0", striped(0), "corrected")
    project.review("f0", verdict, note=note)
    path = project.label_path("f0")
    assert "review" in read_stamp(path)
    _repaint_keeping_chunk(path)
    assert "review" in read_stamp(path)  # the chunk is still there ...
    assert decide(read_provenance(path)) == "corrected"  # ... but not for these pixels
    assert project.status("f0") == "corrected"
    assert project.get_review("f0") is None
    assert Project.open(tmp_path).statuses()["f0"] == "corrected"


def test_a_lossless_recompression_keeps_the_review(tmp_path):
    project = make(tmp_path)
    project.save_mask("f0", striped(0), "corrected")
    project.review("f0")
    path = project.label_path("f0")
    with Image.open(path) as image:
        image.load()
        info = PngImagePlugin.PngInfo()
        info.add_text("labeltool", image.info["labeltool"])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1, pnginfo=info)
    path.write_bytes(buffer.getvalue())
    assert decide(read_provenance(path)) == "reviewed"


def test_train_only_reviewed_limits_training(tmp_path):
    project = make(tmp_path)
    for i in range(3):
        project.save_mask(f"f{i}", striped(i), "corrected")
    project.review("f0")
    project.review("f1", "rejected", note="no")
    assert project.training_names()[0] == ["f0", "f2"]
    project.set_setting("train_only_reviewed", True)
    assert project.training_names()[0] == ["f0"]
    project.set_setting("train_only_reviewed", False)
    assert project.training_names()[0] == ["f0", "f2"]


def test_exports_take_reviewed_masks_as_ground_truth_and_rejected_ones_as_unchecked():
    from model.datasets.unchecked import select

    statuses = {"a": "corrected", "b": "reviewed", "c": "rejected", "d": "edited"}
    chosen = select(statuses, statuses, set(statuses), include_proposals=False, labelled_only=False)
    assert chosen.names == ["a", "b"] and chosen.left_out == {"rejected": 1, "edited": 1}


def test_a_mask_from_another_tool_can_be_reviewed(tmp_path):
    from model.images.imageio import write_mask

    project = make(tmp_path)
    write_mask(project.label_path("f0"), striped(0), project.palette)  # no labeltool chunk: corrected
    assert project.status("f0") == "corrected"
    assert project.review("f0", "approved", by="rita") == "reviewed"
    assert Project.open(tmp_path).get_review("f0")["by"] == "rita"
    np.testing.assert_array_equal(project.load_mask("f0"), striped(0))

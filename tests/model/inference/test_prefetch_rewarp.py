"""Warp where the annotator is (issue 18): after Accept of a video frame, the next frame that still holds the
network's proposal is proposed again from the accepted mask by the prefetch (the app's proposal child), with
the warp's guard and the warp's confidence map; everything else is left alone."""

from __future__ import annotations

import numpy as np
import pytest
from _warp_data import CODES, Useless, accept, frame, iou, make_video, unrelated

from model.images.imageio import read_image, read_mask, write_image
from model.inference.prefetch import after_accept
from model.inference.propagate import FrameIndex, warp_with_fit, warped_from
from model.inference.propose import propose_dataset
from model.nets.planes import LOW_CONFIDENCE
from model.project.codes import write_codes
from model.project.confidence import read_confidence
from model.project.layout import SEQUENCE_SETTING, project_group_regex
from model.project.project import Project


@pytest.fixture
def video(tmp_path):
    return make_video(tmp_path)


def test_accepting_a_frame_reproposes_the_next_from_its_warp_with_the_warps_confidence(video):
    project, truth = video
    written = accept(project, "seq_0001", truth["seq_0001"])
    assert written == ["seq_0002"]
    record = project.record("seq_0002")
    assert record.model == "useless + warp of seq_0001" and warped_from(record.model) == "seq_0001"
    assert project.status("seq_0002") == "proposed"  # still a proposal: to check, never trained on
    proposal = read_mask(project.label_path("seq_0002"))
    assert iou(proposal == 1, truth["seq_0002"] == 1) > 0.8  # the moving object followed, not the network's 0
    # the confidence map and the record's figures are the warp's (1 / (1 + fit residual)), not the network's 0.6
    source, target = (read_image(project.image_path(n)) for n in ("seq_0001", "seq_0002"))
    _mask, expected, _fit, _null = warp_with_fit(source, truth["seq_0001"], target)
    on_disk = read_confidence(project.confidence_path("seq_0002"))
    assert on_disk.shape == expected.shape and np.abs(on_disk - expected).max() <= 1 / 255 + 1e-6
    assert abs(record.mean_confidence - float(expected.mean())) < 1e-3
    assert abs(record.unsure_fraction - float((expected < LOW_CONFIDENCE).mean())) < 1e-3
    assert abs(record.mean_confidence - 0.6) > 0.1  # not the network's figure
    # the rest keeps the network's proposal: the frame after (its neighbour is only proposed), the other video
    for name in ("seq_0003", "seq_0004", "seq_0005", "other_0001", "other_0002"):
        assert project.record(name).model == "useless", name
    # asked again: already the warp of seq_0001, nothing to do
    assert after_accept(project, "seq_0001", FrameIndex(project.names(), project_group_regex(project))) == []


def test_the_rule_names_only_proposed_neighbours_whose_warp_would_come_from_the_accepted_frame(video):
    project, truth = video
    frames = FrameIndex(project.names(), project_group_regex(project))
    assert after_accept(project, "seq_0003", frames) == []  # not corrected: nothing
    project.save_mask("seq_0003", truth["seq_0003"], "corrected")
    assert after_accept(project, "seq_0003", frames) == ["seq_0004", "seq_0002"]  # next first, then previous
    project.save_mask("seq_0001", truth["seq_0001"], "corrected")
    assert after_accept(project, "seq_0003", frames) == ["seq_0004"]  # seq_0002 warps from seq_0001 (previous first)
    project.save_mask("seq_0004", truth["seq_0004"], "edited")  # a person's autosave: never replaced
    project.hold("seq_0002")  # open in an editor
    assert after_accept(project, "seq_0003", frames) == []
    assert after_accept(project, "seq_0001", frames) == []
    project.release("seq_0002")
    assert after_accept(project, "seq_0001", frames) == ["seq_0002"]
    project.save_mask("seq_0005", truth["seq_0005"], "corrected")
    assert after_accept(project, "seq_0005", frames) == []  # its neighbour is edited
    # beyond MAX_FRAME_GAP frames a name is no neighbour
    far = FrameIndex(["seq_0001", "seq_0200"], project_group_regex(project))
    assert after_accept(FarProject(), "seq_0001", far) == []


class FarProject:
    """seq_0001 corrected, seq_0200 the network's proposal."""

    def status(self, name):
        return "corrected" if name == "seq_0001" else "proposed"

    def record(self, name):
        return None

    def is_held(self, name):
        return False


def test_edited_and_corrected_next_frames_and_other_sequences_are_left_alone(video):
    project, truth = video
    project.save_mask("seq_0002", truth["seq_0002"] * 0, "edited")
    before = project.label_path("seq_0002").read_bytes()
    assert accept(project, "seq_0001", truth["seq_0001"]) == []
    assert project.label_path("seq_0002").read_bytes() == before and project.status("seq_0002") == "edited"
    project.save_mask("other_0002", truth["other_0002"], "corrected")
    assert accept(project, "other_0001", truth["other_0001"]) == []  # its next frame is corrected
    assert all(project.record(f"seq_{i:04d}").model == "useless" for i in range(3, 6))


def test_a_next_frame_whose_warp_fails_the_fit_check_keeps_the_network_proposal(video):
    project, truth = video
    write_image(project.image_path("seq_0002"), unrelated(3))  # a cut: another scene under a frame's name
    frames = FrameIndex(project.names(), project_group_regex(project))
    project.save_mask("seq_0001", truth["seq_0001"], "corrected")
    assert after_accept(project, "seq_0001", frames) == ["seq_0002"]  # a candidate by name only
    before = project.label_path("seq_0002").read_bytes()
    assert accept(project, "seq_0001", truth["seq_0001"]) == []  # the guard refuses the warp: nothing written
    assert project.label_path("seq_0002").read_bytes() == before
    assert project.record("seq_0002").model == "useless"


def test_independent_photos_are_never_warped(tmp_path):
    """IMG_0001.. of one scene each way, sequence setting "": accepting one never touches another."""
    write_codes(tmp_path / "codes.txt", CODES)
    for i in range(1, 4):
        write_image(tmp_path / "images" / f"IMG_{i:04d}.png", frame(40 + 2 * i, 50 + 3 * i, seed=i)[0])
    project = Project.open(tmp_path)
    project.set_setting(SEQUENCE_SETTING, "")
    propose_dataset(project, predictor=Useless(), neighbours="off")
    mask = frame(42, 53, seed=1)[1]
    assert accept(project, "IMG_0001", mask) == []
    assert after_accept(project, "IMG_0001", FrameIndex(project.names(), project_group_regex(project))) == []
    assert (read_mask(project.label_path("IMG_0002")) == 0).all()
    assert project.record("IMG_0002").model == "useless"


def test_the_serve_child_rewarps_after_an_accepted_message(tmp_path, monkeypatch):
    """The app's proposal child (`labeltool predict --serve`), told `{"accepted": [NAME]}` once the save is
    written, proposes the next frame from the warp before its plan; the plan goes on after."""
    from tests._inference_data import save_constant_model
    from tests.model.inference.test_prefetch_serve import Child, proposed

    monkeypatch.setenv("LABELTOOL_RUNTIME", "torch")
    project, truth = make_video(tmp_path)
    model = save_constant_model(tmp_path / "models", CODES, winner=0)
    project.set_status("seq_0004", "none")
    project.save_mask("seq_0001", truth["seq_0001"], "corrected")  # Accept, written before the app tells the child
    child = Child(tmp_path, monkeypatch)
    try:
        child.until(lambda e: e.get("event") == "start")
        child.send({"accepted": ["seq_0001"], "plan": ["seq_0004"]})
        child.until(lambda e: e.get("name") == "seq_0004" and e.get("event") == "proposed")
    finally:
        assert child.close() == 0
    assert proposed(child.events) == ["seq_0002", "seq_0004"]  # the warp first
    assert Project.open(tmp_path).record("seq_0002").model == f"{model.name} + warp of seq_0001"

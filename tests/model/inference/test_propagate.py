"""Propagation between frames: a moving object's mask lands on its next position; neighbours by name."""

import numpy as np
from _warp_data import frame, iou

from model.inference.propagate import combine, neighbours, propagate, propose_from_neighbour, sequence_key


def test_warp_moves_the_object_onto_its_next_position():
    img0, m0 = frame(40, 50)
    img1, m1 = frame(44, 57, seed=1)
    copied = propagate(img0, m0, img1, "copy")
    warped = propagate(img0, m0, img1, "warp")
    assert iou(warped == 1, m1 == 1) > 0.8
    assert iou(warped == 1, m1 == 1) > iou(copied == 1, m1 == 1) + 0.1


def test_combination_takes_the_sure_network_pixels():
    warp = np.zeros((4, 4), np.uint8)
    net = np.full((4, 4), 2, np.uint8)
    conf = np.zeros((4, 4), np.float32)
    conf[0] = 0.9
    out = combine(warp, net, conf, 0.7)
    assert (out[0] == 2).all() and (out[1:] == 0).all()


def test_neighbours_follow_sequence_and_frame_number():
    names = ["0001TP_006690", "0001TP_006720", "0001TP_006750", "Seq05VD_f00000", "Seq05VD_f00030", "0016E5_07959"]
    assert sequence_key("Seq05VD_f00030") == ("Seq05VD", 30)
    assert neighbours(names, "0001TP_006720") == ("0001TP_006690", "0001TP_006750")
    assert neighbours(names, "Seq05VD_f00000") == (None, "Seq05VD_f00030")
    assert neighbours(names, "0016E5_07959") == (None, None)
    assert neighbours(names + ["photo"], "photo") == (None, None)


class _Project:
    def __init__(self, frames, statuses):
        self.frames, self.statuses = frames, statuses

    def names(self):
        return list(self.frames)

    def status(self, n):
        return self.statuses.get(n, "none")

    def load_mask(self, n):
        return self.frames[n][1] if self.status(n) == "corrected" else None

    def image_path(self, n):
        return self.paths[n]


def test_propose_from_neighbour_uses_the_corrected_previous_frame(tmp_path):
    from PIL import Image

    frames = {"cam_000": frame(40, 50), "cam_001": frame(44, 57, seed=1), "cam_002": frame(48, 64, seed=2)}
    proj = _Project(frames, {"cam_000": "corrected"})
    proj.paths = {}
    for n, (img, _) in frames.items():
        proj.paths[n] = tmp_path / f"{n}.png"
        Image.fromarray(img).save(proj.paths[n])
    got = propose_from_neighbour(proj, "cam_001")
    assert got is not None and got.source == "cam_000" and got.method == "warp"
    assert iou(got.mask == 1, frames["cam_001"][1] == 1) > 0.8
    assert propose_from_neighbour(proj, "cam_002") is None  # its neighbour cam_001 is not corrected


def test_frame_index_agrees_with_the_plain_search():
    from model.inference.propagate import FrameIndex

    names = ["0001TP_006690", "0001TP_006720", "0001TP_006750", "Seq05VD_f00000", "Seq05VD_f00030", "photo"]
    index = FrameIndex(names)
    for name in names:
        assert index.neighbours(name) == neighbours(names, name), name


def test_proposal_run_proposes_a_frame_next_to_a_corrected_one_from_its_warp(tmp_path):
    """The network here is useless (all class 0); the frame after a corrected one follows the moving object."""
    from model.images.imageio import read_mask, write_image
    from model.inference.predict import Prediction
    from model.inference.propose import propose_dataset
    from model.project.codes import write_codes
    from model.project.project import Project

    write_codes(tmp_path / "codes.txt", ["Road", "Car", "Void"])
    img0, m0 = frame(40, 50)
    img1, m1 = frame(44, 57, seed=1)
    write_image(tmp_path / "images" / "seqA_000010.png", img0)
    write_image(tmp_path / "images" / "seqA_000011.png", img1)
    write_image(tmp_path / "images" / "other.png", img1)
    project = Project.open(tmp_path)
    project.save_mask("seqA_000010", m0, "corrected")

    class Useless:
        classes = None
        model_name = "useless"

        def predict_many(self, images, **_options):
            return [Prediction(np.zeros(im.shape[:2], np.uint8), np.full(im.shape[:2], 0.9, np.float32))
                    for im in images]

    written = propose_dataset(project, predictor=Useless())
    assert sorted(written) == ["other", "seqA_000011"]
    warped = read_mask(tmp_path / "labels" / "seqA_000011_P.png")
    assert iou(warped == 1, m1 == 1) > 0.8
    assert project.record("seqA_000011").model == "useless + warp of seqA_000010"
    assert (read_mask(tmp_path / "labels" / "other_P.png") == 0).all()  # no neighbour: the network's
    project.set_status("seqA_000011", "none")
    propose_dataset(project, predictor=Useless(), neighbours="off")
    assert (read_mask(tmp_path / "labels" / "seqA_000011_P.png") == 0).all()


def test_combination_by_default_takes_the_network_only_where_it_is_very_sure():
    warp = np.zeros((2, 2), np.uint8)
    net = np.ones((2, 2), np.uint8)
    conf = np.array([[0.95, 0.9], [0.8, 0.5]], np.float32)
    out = combine(warp, net, conf)  # the measured threshold (0.9): a 0.8-sure network loses to the warp
    assert out.tolist() == [[1, 1], [0, 0]]

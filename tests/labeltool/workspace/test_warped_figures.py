"""What the list shows for a frame re-proposed from its accepted neighbour's warp (issue 18): its confidence,
pixels to check and place in "least certain first" are the warp's, not the network's proposal it replaced."""

from __future__ import annotations

import numpy as np
from _warp_data import accept, make_video

from labeltool.workspace.plan import accepted_message
from labeltool.workspace.session import Session
from model.images.imageio import read_image
from model.inference.propagate import warp_with_fit
from model.inference.propose import neighbour_stats


def test_the_list_shows_the_warps_figures_for_a_reproposed_frame(tmp_path):
    project, truth = make_video(tmp_path)
    pixels = truth["seq_0002"].size
    before = Session(project, records=project.records(), image_pixels=pixels)
    network_check = before.to_check(before.row_of["seq_0002"])
    assert accept(project, "seq_0001", truth["seq_0001"]) == ["seq_0002"]
    session = Session(project, records=project.records(), image_pixels=pixels)
    row = session.row_of["seq_0002"]
    source, target = (read_image(project.image_path(n)) for n in ("seq_0001", "seq_0002"))
    confidence = warp_with_fit(source, truth["seq_0001"], target)[1]
    figures = neighbour_stats(confidence, len(project.codes))
    assert session.to_check(row) == round(figures["unsure_fraction"] * pixels) != network_check
    assert np.isclose(session.uncertainty[row], figures["entropy"] / np.log(len(project.codes)), atol=1e-5)
    assert session.to_check(session.row_of["seq_0001"]) is None  # corrected: nothing to check


def test_a_warped_frame_is_not_sorted_as_more_certain_than_the_network_at_the_same_confidence():
    """Entropy on the network's scale: a warp of confidence c reads as c on the warped class and the rest spread
    over the other classes, exactly the entropy of a network pixel with that distribution (12 classes)."""
    classes, c = 12, 0.6
    network_pixel = np.array([c, *[(1 - c) / (classes - 1)] * (classes - 1)])
    network_entropy = float(-(network_pixel * np.log(network_pixel)).sum())
    warped = neighbour_stats(np.full((4, 4), c, np.float32), classes)
    assert np.isclose(warped["entropy"], network_entropy, rtol=1e-4)
    assert np.isclose(warped["margin"], c - (1 - c) / (classes - 1), rtol=1e-4)
    two_way = -(c * np.log(c) + (1 - c) * np.log(1 - c))  # the old reading: far more certain than the network
    assert warped["entropy"] > two_way + 0.5


def test_only_a_correction_is_told_to_the_proposal_child():
    assert accepted_message("seq_0001", "corrected") == {"accepted": ["seq_0001"]}
    for status in ("edited", "proposed", "unknown", "none"):
        assert accepted_message("seq_0001", status) is None

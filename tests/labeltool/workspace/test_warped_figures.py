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
    figures = neighbour_stats(confidence)
    assert session.to_check(row) == round(figures["unsure_fraction"] * pixels) != network_check
    assert np.isclose(session.uncertainty[row], figures["entropy"] / np.log(len(project.codes)), atol=1e-5)
    assert session.to_check(session.row_of["seq_0001"]) is None  # corrected: nothing to check


def test_only_a_correction_is_told_to_the_proposal_child():
    assert accepted_message("seq_0001", "corrected") == {"accepted": ["seq_0001"]}
    for status in ("edited", "proposed", "unknown", "none"):
        assert accepted_message("seq_0001", status) is None

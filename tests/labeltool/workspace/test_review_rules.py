"""Review mode's Qt-free rules (issue 19): the diff marks exactly the pixels the annotator changed from the
kept proposal, walking corrected images, the enabled actions and N walking rejected images."""

from __future__ import annotations

import numpy as np

from labeltool.workspace.plan import enabled_actions
from labeltool.workspace.review import NO_PROPOSAL, changed_pixels, next_to_review, review_diff, verdict_text
from labeltool.workspace.session import Session
from model.images.imageio import write_image
from model.project.codes import write_codes
from model.project.project import Project

SIZE = (12, 16)


def make(root, n=5):
    write_codes(root / "codes.txt", ["Sky", "Road", "Void"])
    rng = np.random.default_rng(0)
    for i in range(n):
        write_image(root / "images" / f"f{i}.png", rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8))
    return Project.open(root)


def test_changed_pixels_marks_exactly_the_changes():
    proposal = np.zeros(SIZE, np.uint8)
    mask = proposal.copy()
    mask[2, 3] = 1
    mask[5:7, 8:10] = 2
    changed = changed_pixels(proposal, mask)
    assert changed.dtype == bool and changed.sum() == 5
    assert set(zip(*np.nonzero(changed), strict=True)) == {(2, 3), (5, 8), (5, 9), (6, 8), (6, 9)}


def test_review_diff_against_the_kept_proposal(tmp_path):
    project = make(tmp_path)
    proposal = np.zeros(SIZE, np.uint8)
    project.save_mask("f0", proposal, "proposed", model="m")
    mask = proposal.copy()
    mask[1, 1] = 1
    mask[10, 4:7] = 2
    project.save_mask("f0", mask, "corrected")  # the proposal is kept aside on the first save
    diff = review_diff(project, "f0")
    expected = np.zeros(SIZE, bool)
    expected[1, 1] = True
    expected[10, 4:7] = True
    np.testing.assert_array_equal(diff.changed, expected)
    assert diff.count == 4 and diff.bbox() == (1, 1, 11, 7)
    assert "4 pixels" in diff.text

    project.save_mask("f1", mask, "corrected")  # never a proposal: nothing to compare with
    diff = review_diff(project, "f1")
    assert diff.changed is None and diff.text == NO_PROPOSAL


def test_next_to_review_walks_corrected_images_in_list_order(tmp_path):
    project = make(tmp_path)
    for name in ("f1", "f3", "f4"):
        project.save_mask(name, np.zeros(SIZE, np.uint8), "corrected")
    project.review("f4", "rejected", note="no")
    session = Session(project)
    session.sort("name")
    session.index = 0
    assert next_to_review(session) == 1
    session.index = 1
    assert next_to_review(session) == 3
    session.index = 3
    assert next_to_review(session) == 1  # wraps; f4 is rejected, not to review
    # N (next to correct) walks the rejected image as work to do, and skips reviewed ones
    project.review("f3")
    session = Session(project)
    session.sort("name")
    session.index = 2
    walk = []
    for _ in range(3):
        session.index = session.next_not_corrected()
        walk.append(session.names[session.index])
    assert walk == ["f4", "f0", "f2"]


def test_approve_and_reject_are_enabled_only_in_review_mode_on_a_saved_corrected_mask():
    def on(status, review_mode=True, dirty=False):
        got = enabled_actions(True, False, False, False, status, dirty, False, review_mode)
        return got["approve"], got["reject"]

    assert on("corrected") == (True, True)
    assert on("rejected") == (True, True)
    assert on("corrected", review_mode=False) == (False, False)
    assert on("corrected", dirty=True) == (False, False)
    for status in ("none", "proposed", "edited", "unknown"):
        assert on(status) == (False, False)


def test_verdict_text_carries_the_note():
    review = {"verdict": "rejected", "by": "rita", "at": "2026-12-05T18:00:00", "note": "kerb is road"}
    assert "kerb is road" in verdict_text("rejected", review) and "rita" in verdict_text("rejected", review)
    assert verdict_text("corrected", review) is None

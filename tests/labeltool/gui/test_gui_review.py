"""Review mode in the window (issue 19): approve (Y) moves to the next corrected image and the list shows
reviewed; reject (X) with a note; the diff overlay; the rejected note in the banner; N walks rejected images."""

import numpy as np
import pytest
from _gui_window import never_block, open_window, wait_shown
from PySide6.QtCore import QPoint, Qt

from labeltool.gui.file_list import STATUS_TEXT
from model.images.imageio import write_image
from model.project.codes import write_codes
from model.project.project import Project

CODES = ["Sky", "Road", "Car", "Void"]
H, W = 48, 64


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    never_block(monkeypatch, messages=True)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(root / "images" / f"img{i}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    write_codes(root / "codes.txt", CODES)
    project = Project.open(root)
    proposal = np.zeros((H, W), np.uint8)
    project.save_mask("img0", proposal, "proposed", model="m1")
    corrected = proposal.copy()
    corrected[10:14, 20:25] = 2  # the annotator painted a car: 20 pixels
    project.save_mask("img0", corrected, "corrected")
    project.save_mask("img2", np.ones((H, W), np.uint8), "corrected")  # no proposal kept
    return root


@pytest.fixture
def window(qtbot, dataset):
    win = open_window(qtbot, dataset)
    win.session.sort("name")
    win.files.resorted()
    return win


def idle(win, qtbot):
    qtbot.waitUntil(lambda: not win.writer.busy(), timeout=5000)


def test_review_mode_approve_reject_and_the_note(window, dataset, qtbot, monkeypatch):
    window.go_to(window.session.names.index("img3"))
    wait_shown(window, qtbot, "img3")
    window.actions_by_name["review_mode"].trigger()  # review mode: opens the next corrected image (wrapping)
    assert window.review_mode
    wait_shown(window, qtbot, "img0")
    qtbot.waitUntil(lambda: window.review_diff is not None, timeout=5000)
    expected = np.zeros((H, W), bool)
    expected[10:14, 20:25] = True
    np.testing.assert_array_equal(window.review_diff.changed, expected)  # only the annotator's pixels
    assert "20 pixels" in window.review_banner.text()

    qtbot.keyClick(window, Qt.Key_Y)  # approve: reviewed, and on to the next corrected image
    wait_shown(window, qtbot, "img2")
    idle(window, qtbot)
    qtbot.waitUntil(lambda: window.session.status("img0") == "reviewed", timeout=5000)
    row = int(window.session.row_in_view[window.session.row_of["img0"]])
    assert window.files.model.index(row, 1).data() == STATUS_TEXT["reviewed"] == "reviewed"
    assert Project.open(dataset).status("img0") == "reviewed"
    qtbot.waitUntil(lambda: "no proposal to compare with" in window.review_banner.text(), timeout=5000)

    monkeypatch.setattr(type(window), "ask_reject_note", lambda self, name: "the sky is road")
    qtbot.keyClick(window, Qt.Key_X)  # reject with a note
    idle(window, qtbot)
    qtbot.waitUntil(lambda: window.session.status("img2") == "rejected", timeout=5000)
    assert Project.open(dataset).get_review("img2")["note"] == "the sky is road"

    window.actions_by_name["review_mode"].trigger()  # off: N walks the rejected image as work to do
    assert not window.review_mode
    window.go_to(window.session.names.index("img1"))
    wait_shown(window, qtbot, "img1")
    qtbot.keyClick(window, Qt.Key_N)
    wait_shown(window, qtbot, "img2")
    qtbot.waitUntil(lambda: "the sky is road" in window.review_banner.text(), timeout=5000)
    assert window.review_banner.isVisible()

    # the annotator fixes it: an edit, then Enter makes it corrected again (the review is dropped)
    canvas = window.editor.canvas
    qtbot.keyClick(canvas, Qt.Key_3)
    p = canvas.widget_point(5.5, 5.5)
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(round(p.x()), round(p.y())))
    assert window.editor.is_dirty()
    qtbot.keyClick(window, Qt.Key_Return)
    idle(window, qtbot)
    qtbot.waitUntil(lambda: window.session.status("img2") == "corrected", timeout=5000)
    assert Project.open(dataset).get_review("img2") is None

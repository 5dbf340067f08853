"""The three states of a person's work in the window (issue 16): saving keeps edits as *edited* (never
trained on, never overwritten by proposals), only Accept or Mark corrected makes *corrected*; Mark not
checked and Revert to proposal; a failed save raises a banner that stays and leaves a recovery file;
pixels nobody painted (no Void class) stop Accept.

Needs the engine's status contract (model/, helper A's branch) and the editor's unpainted map
(labeltool/editing, helper F's branch)."""

import os

import numpy as np
import pytest
from _gui_window import never_block, open_window, wait_shown
from PySide6.QtCore import QPoint, Qt

from model.errors import MaskError
from model.images.imageio import read_mask, write_image, write_mask
from model.project.codes import write_codes
from model.project.palette import default_palette
from model.project.project import Project

CODES = ["Sky", "Road", "Car", "Void"]
H, W = 48, 64


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    never_block(monkeypatch, messages=True)


def make_dataset(root, codes=CODES):
    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(root / "images" / f"img{i}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    write_codes(root / "codes.txt", codes)
    write_mask(root / "labels" / "img0_P.png", np.full((H, W), 1, np.uint8), default_palette(codes))
    project = Project.open(root)
    for name in ("img1", "img2"):
        project.save_mask(name, np.zeros((H, W), np.uint8), "proposed", model="m1",
                          summary={"mean_confidence": 0.7, "unsure_fraction": 0.3, "entropy": 0.3})
    return root


@pytest.fixture
def dataset(tmp_path):
    return make_dataset(tmp_path / "ds")


@pytest.fixture
def window(qtbot, dataset):
    win = open_window(qtbot, dataset)
    win.session.sort("name")
    win.files.resorted()
    return win


def show(win, qtbot, name):
    win.go_to(win.session.names.index(name))
    wait_shown(win, qtbot, name)


def dab(win, qtbot, y, x, key=Qt.Key_2):
    canvas = win.editor.canvas
    qtbot.keyClick(canvas, key)
    p = canvas.widget_point(y + 0.5, x + 0.5)
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(round(p.x()), round(p.y())))


def idle(win, qtbot):
    qtbot.waitUntil(lambda: not win.writer.busy(), timeout=5000)


def test_a_stray_dab_on_a_proposal_then_next_stays_edited_and_is_never_trained(window, dataset, qtbot):
    show(window, qtbot, "img1")
    dab(window, qtbot, 5, 5)
    qtbot.keyClick(window, Qt.Key_D)  # Next: the dab is saved on the way
    wait_shown(window, qtbot, "img2")
    idle(window, qtbot)
    project = Project.open(dataset)
    assert project.status("img1") == "edited"
    assert read_mask(project.label_path("img1"), len(CODES))[5, 5] == 1  # the dab is safe on disk
    train, val = project.training_names()
    assert "img1" not in train + val and "img0" in train + val
    with pytest.raises(MaskError):  # a proposal never overwrites it
        project.save_mask("img1", np.zeros((H, W), np.uint8), "proposed", model="m2")
    qtbot.waitUntil(lambda: window.session.status("img1") == "edited", timeout=5000)
    assert window.files.status_text(window.session.row_of["img1"]) == "edited"
    assert "1 edited (not checked)" in window.files.summary.text()
    window.session.index = window.session.row_of["img0"]
    assert window.session.names[window.session.next_not_corrected()] == "img1"  # N / Enter walk it


def test_accept_of_an_untouched_edited_mask_makes_it_corrected(window, dataset, qtbot):
    Project.open(dataset).save_mask("img3", np.full((H, W), 2, np.uint8), "edited")
    window.poll()
    qtbot.waitUntil(lambda: window.session.status("img3") == "edited", timeout=5000)
    show(window, qtbot, "img3")
    qtbot.keyClick(window, Qt.Key_Return)
    idle(window, qtbot)
    qtbot.waitUntil(lambda: window.session.status("img3") == "corrected", timeout=5000)
    assert Project.open(dataset).status("img3") == "corrected"


def test_mark_not_checked_mark_corrected_and_revert_to_proposal(window, dataset, qtbot, monkeypatch):
    actions = window.actions_by_name
    show(window, qtbot, "img0")
    assert not actions["revert_proposal"].isEnabled() and actions["mark_unchecked"].isEnabled()
    actions["mark_unchecked"].trigger()
    qtbot.waitUntil(lambda: window.session.status("img0") == "edited", timeout=5000)
    assert Project.open(dataset).status("img0") == "edited"
    actions["mark_corrected"].trigger()
    qtbot.waitUntil(lambda: window.session.status("img0") == "corrected", timeout=5000)
    # a person's save over a proposal keeps the proposal: Revert brings it back, asking before edits go
    show(window, qtbot, "img1")
    dab(window, qtbot, 7, 7)
    window.save()
    assert window.session.status("img1") == "edited" and actions["revert_proposal"].isEnabled()
    dab(window, qtbot, 9, 9)
    asked = []
    monkeypatch.setattr(window, "ask_revert", lambda name: asked.append(name) or True)
    qtbot.keyClick(window, Qt.Key_R, Qt.ControlModifier | Qt.ShiftModifier)
    qtbot.waitUntil(lambda: window.session.status("img1") == "proposed", timeout=5000)
    assert asked == ["img1"]
    assert read_mask(dataset / "labels" / "img1_P.png", len(CODES)).max() == 0  # the proposal's pixels
    qtbot.waitUntil(lambda: window.editor.mask()[7, 7] == 0 and not window.editor.is_dirty(), timeout=5000)


def test_a_failed_save_raises_a_banner_that_stays_and_leaves_a_recovery_file(window, dataset, qtbot, monkeypatch,
                                                                            tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = window.session.project
    real = project.save_mask
    labels = dataset / "labels"
    os.chmod(labels, 0o555)  # a read-only labels folder
    if os.access(labels, os.W_OK):  # root: chmod does not stop writes; make the engine's write fail instead
        os.chmod(labels, 0o755)

        def refuse(*_a, **_k):
            raise MaskError(project.label_path("img3"), "cannot be written ([Errno 30] Read-only file system)")

        monkeypatch.setattr(project, "save_mask", refuse)
    show(window, qtbot, "img3")
    dab(window, qtbot, 11, 12)
    window.step(-1)  # switching saves img3 in the background: it fails
    wait_shown(window, qtbot, "img2")
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=5000)
    recovered = list((tmp_path / "cache" / "labeltool" / "recovery").glob("*/img3_P.png"))
    assert len(recovered) == 1 and read_mask(recovered[0], len(CODES))[11, 12] == 1
    assert "img3" in window.banner.label.text() and str(recovered[0]) in window.banner.label.text()
    qtbot.wait(300)
    assert window.banner.isVisible()  # not a status line that goes away
    show(window, qtbot, "img3")  # the pixels come back on screen, unsaved; the banner stays
    assert window.editor.mask()[11, 12] == 1 and window.editor.is_dirty() and window.banner.isVisible()
    os.chmod(labels, 0o755)
    monkeypatch.setattr(project, "save_mask", real)
    window.banner.retry.click()
    idle(window, qtbot)
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=5000)
    assert read_mask(dataset / "labels" / "img3_P.png", len(CODES))[11, 12] == 1


def test_without_void_unpainted_pixels_stop_accept_and_survive_a_reopen(tmp_path, qtbot):
    root = tmp_path / "novoid"
    codes = ["Sky", "Road", "Car"]
    rng = np.random.default_rng(1)
    for i in range(2):
        write_image(root / "images" / f"img{i}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    write_codes(root / "codes.txt", codes)
    window = open_window(qtbot, root)
    wait_shown(window, qtbot, "img0")
    dab(window, qtbot, 3, 3)
    qtbot.keyClick(window, Qt.Key_Return)
    assert window.shown == "img0" and "not painted" in window.statusBar().currentMessage()
    assert "no Void class" in window.statusBar().currentMessage()
    window.save()  # kept as edited, with the pixels nobody painted
    project = Project.open(root)
    assert project.status("img0") == "edited"
    unpainted = project.load_unpainted("img0")
    assert unpainted is not None and 0 < unpainted.sum() < H * W and not unpainted[3, 3]  # all but the dab
    window.close()
    again = open_window(qtbot, root)
    wait_shown(again, qtbot, "img0")
    qtbot.keyClick(again, Qt.Key_Return)  # still refused after a reopen: the map came back with the mask
    assert again.shown == "img0" and "not painted" in again.statusBar().currentMessage()
    assert Project.open(root).status("img0") == "edited"
    again.close()


def test_a_split_list_problem_is_shown_when_the_folder_opens(tmp_path, qtbot):
    """valid.txt naming img3.jpg while the image is img3.png: a retrain would stop on it (issue 16 item 4);
    the window says so, naming the file and line, as soon as the folder opens."""
    root = make_dataset(tmp_path / "ds")
    (root / "valid.txt").write_text("img1.png\nimg3.jpg\n")
    win = open_window(qtbot, root)
    assert win.lists_banner.isVisible()
    text = win.lists_banner.label.text()
    assert "valid.txt" in text and "line 2" in text and "img3.png exists" in text
    (root / "valid.txt").write_text("img1.png\n")
    fixed = open_window(qtbot, root)
    assert not fixed.lists_banner.isVisible()

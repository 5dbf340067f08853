"""Who and how it looks in the window (issue 19, items 6 and 7): the annotator in the status bar and in the stamp,
Preferences, the colour-blind-safe palette kept per project (display only), outline mode and the class (and
confidence) under the cursor."""

import numpy as np
import pytest
from _gui_window import never_block, open_window, wait_shown
from PySide6.QtCore import QPoint, Qt

from model.images.imageio import read_mask, write_image, write_mask
from model.project import identity
from model.project.codes import write_codes
from model.project.palette import OKABE_ITO, default_palette
from model.project.project import Project
from model.project.provenance import read_stamp

CODES = ["Sky", "Road", "Car", "Void"]
H, W = 48, 64


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    never_block(monkeypatch, messages=True)


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(identity.ENV, raising=False)
    identity.set_annotator("Ada Lovelace")
    return tmp_path / "config" / "labeltool" / "annotator"


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(root / "images" / f"img{i}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    write_codes(root / "codes.txt", CODES)
    mask = np.full((H, W), 1, np.uint8)
    mask[10:20, 20:40] = 2  # a Car on the Road
    write_mask(root / "labels" / "img0_P.png", mask, default_palette(CODES))
    return root


@pytest.fixture
def window(qtbot, dataset):
    win = open_window(qtbot, dataset)
    win.session.sort("name")
    win.files.resorted()
    win.go_to(win.session.names.index("img0"))
    wait_shown(win, qtbot, "img0")
    return win


def idle(win, qtbot):
    qtbot.waitUntil(lambda: not win.writer.busy(), timeout=5000)


def test_status_bar_names_the_annotator_and_preferences_change_the_name_in_the_next_stamp(window, dataset, qtbot,
                                                                                           config):
    assert window.annotator_button.text() == "Annotator: Ada Lovelace"
    qtbot.mouseClick(window.annotator_button, Qt.LeftButton)  # a click opens Preferences
    dialog = window.preferences_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.name_edit.text() == "Ada Lovelace"
    dialog.name_edit.setText("bad\tname")
    dialog.accept()  # refused: the dialog stays open and says why, the file keeps the old name
    assert dialog.isVisible() and "control character" in dialog.error.text()
    assert config.read_text(encoding="utf-8") == "Ada Lovelace\n"
    dialog.name_edit.setText("Grace Hopper")
    dialog.accept()
    assert not dialog.isVisible() and config.read_text(encoding="utf-8") == "Grace Hopper\n"
    assert window.annotator_button.text() == "Annotator: Grace Hopper"
    canvas = window.editor.canvas
    qtbot.keyClick(canvas, Qt.Key_1)
    p = canvas.widget_point(30.5, 5.5)
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(round(p.x()), round(p.y())))
    window.save()
    idle(window, qtbot)
    assert read_stamp(dataset / "labels" / "img0_P.png")["by"] == "Grace Hopper"


def test_okabe_ito_palette_is_kept_per_project_and_never_changes_the_mask_files(window, dataset, qtbot, tmp_path):
    before = (dataset / "labels" / "img0_P.png").read_bytes()
    window.palette_actions["okabe-ito"].trigger()
    assert tuple(window.editor.layer.palette[0]) == OKABE_ITO[0]  # Sky, on screen
    overlay = window.editor.canvas.overlay.rgba()
    assert tuple(overlay[15, 30, :3]) == OKABE_ITO[2]  # the Car, in the third Okabe-Ito colour
    idle(window, qtbot)
    assert (dataset / "labels" / "img0_P.png").read_bytes() == before
    assert Project.open(dataset).get_setting("palette") == "okabe-ito"
    # a save writes the project's palette, not the one on screen
    canvas = window.editor.canvas
    qtbot.keyClick(canvas, Qt.Key_1)
    p = canvas.widget_point(30.5, 5.5)
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(round(p.x()), round(p.y())))
    window.save()
    idle(window, qtbot)
    from PIL import Image

    with Image.open(dataset / "labels" / "img0_P.png") as im:
        assert tuple(im.getpalette()[:3]) == tuple(int(v) for v in default_palette(CODES)[0])
    assert read_mask(dataset / "labels" / "img0_P.png", len(CODES))[30, 5] == 0
    window.close()
    again = open_window(qtbot, dataset)  # the choice comes back with the project
    assert again.palette_choice == "okabe-ito" and again.palette_actions["okabe-ito"].isChecked()
    assert tuple(again.editor.layer.palette[2]) == OKABE_ITO[2]


def test_outline_mode_from_its_shortcut_draws_only_boundaries(window, dataset, qtbot):
    canvas = window.editor.canvas
    filled = canvas.overlay.rgba()
    assert filled[15, 30, 3] == 255  # inside the Car: coloured
    qtbot.keyClick(window, Qt.Key_M, Qt.ShiftModifier)
    assert window.outline_action.isChecked() and canvas.outline
    assert canvas.show_mask  # M's own toggle was not triggered
    outlined = canvas.overlay.rgba()
    assert outlined[15, 30, 3] == 0  # inside: the image shows
    assert tuple(outlined[10, 30, :3]) == tuple(filled[10, 30, :3])  # the Car's top edge, in the Car's colour
    # kept per project: written by the writer thread, in its order (wait for it rather than race it)
    qtbot.waitUntil(lambda: Project.open(dataset).get_setting("outline") is True, timeout=5000)
    qtbot.keyClick(window, Qt.Key_M, Qt.ShiftModifier)
    assert not canvas.outline and canvas.overlay.rgba()[15, 30, 3] == 255


def test_status_bar_names_the_class_and_the_confidence_under_the_cursor(window, qtbot):
    canvas = window.editor.canvas
    conf = np.full((H, W), 0.9, np.float32)
    conf[15, 30] = 0.42
    window.editor.set_confidence(conf)
    p = canvas.widget_point(15.5, 30.5)
    qtbot.mouseMove(canvas, QPoint(round(p.x()), round(p.y())))
    qtbot.waitUntil(lambda: "class=Car" in window.cursor_label.text(), timeout=3000)
    assert "x=30, y=15, class=Car (2), confidence 42%" in window.cursor_label.text()
    p = canvas.widget_point(40.5, 2.5)
    qtbot.mouseMove(canvas, QPoint(round(p.x()), round(p.y())))
    qtbot.waitUntil(lambda: "class=Road (1), confidence 90%" in window.cursor_label.text(), timeout=3000)


def test_a_name_set_in_a_terminal_shows_when_the_window_is_active_again(window, monkeypatch):
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    identity.set_annotator("Grace Hopper")  # labeltool whoami --set, meanwhile
    monkeypatch.setattr(window, "isActiveWindow", lambda: True)
    QApplication.sendEvent(window, QEvent(QEvent.ActivationChange))
    assert window.annotator_button.text() == "Annotator: Grace Hopper"

"""The whole loop in the app, driven with real mouse and key events: open, paint, save, accept,
retrain in a separate process, re-propose; corrected masks are never touched by proposals."""

import hashlib

import numpy as np
import pytest
from _gui_window import never_block, open_window, wait_shown
from PIL import Image
from PySide6.QtCore import QPoint, Qt

import model.registry.registry  # noqa: F401 - see below
from labeltool.gui.main_window import MainWindow
from model.images.imageio import write_image, write_mask
from model.project.codes import write_codes
from model.project.palette import default_palette

# model.registry is imported above once: the Models panel's first refresh imports it (and torch) on the GUI
# thread, which freezes the window for seconds right after a folder opens (reported); the tests time the window.
CODES = ["Sky", "Road", "Car", "Void"]
H, W = 64, 96


def scene(seed: int):
    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), np.uint8)
    mask[H // 2:] = 1
    y, x = int(rng.integers(H // 2, H - 12)), int(rng.integers(0, W - 24))
    mask[y:y + 10, x:x + 24] = 2
    colours = np.array([[120, 160, 230], [80, 80, 80], [220, 30, 30], [0, 0, 0]], np.uint8)
    image = np.clip(colours[mask].astype(int) + rng.integers(-8, 9, (H, W, 3)), 0, 255).astype(np.uint8)
    return image, mask


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    """A test that fails must not hang in a modal dialog while its window closes."""
    never_block(monkeypatch)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    for i in range(6):
        image, mask = scene(i)
        write_image(root / "images" / f"img{i}.png", image)
        if i < 3:
            write_mask(root / "labels" / f"img{i}_P.png", mask, default_palette(CODES))
    write_codes(root / "codes.txt", CODES)
    (root / "valid.txt").write_text("img2.png\n")
    return root


@pytest.fixture
def window(qtbot, dataset):
    return open_window(qtbot, dataset)




def canvas_point(win, y, x) -> QPoint:
    p = win.editor.canvas.widget_point(y + 0.5, x + 0.5)
    return QPoint(round(p.x()), round(p.y()))


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_open_shows_statuses_from_the_files(window, dataset):
    statuses = [window.files.status_text(i) for i in range(6)]
    assert statuses == ["corrected"] * 3 + ["no mask"] * 3
    assert window.session.current == "img0"


def test_paint_with_the_mouse_and_save_writes_an_indexed_png(window, dataset, qtbot):
    window.go_to(4)  # an image with no mask yet
    wait_shown(window, qtbot, "img4")
    canvas = window.editor.canvas
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_B)  # brush
    qtbot.keyClick(canvas, Qt.Key_3)  # third class: Car
    qtbot.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, canvas_point(window, 20, 20))
    qtbot.mouseMove(canvas, canvas_point(window, 20, 60))
    qtbot.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, canvas_point(window, 20, 60))
    assert window.editor.is_dirty()
    assert window.windowTitle().startswith("●")
    qtbot.keyClick(window, Qt.Key_S, Qt.ControlModifier)  # saves on the writer thread; Ctrl+S waits for it
    path = dataset / "labels" / "img4_P.png"
    with Image.open(path) as saved:
        assert saved.mode == "P"
        pixels = np.asarray(saved)
        palette = np.array(saved.getpalette()[: 3 * len(CODES)]).reshape(-1, 3)
    assert pixels[20, 20] == 2 and pixels[20, 60] == 2 and pixels[20, 40] == 2
    assert pixels[50, 5] == 3  # untouched pixels are Void
    assert (palette == default_palette(CODES)).all()
    assert window.session.project.status("img4") == "edited"  # Ctrl+S: saved, not checked
    assert not window.editor.is_dirty()


def test_autosave_after_idle_and_on_switching(window, dataset, qtbot):
    window.go_to(5)
    wait_shown(window, qtbot, "img5")
    canvas = window.editor.canvas
    qtbot.keyClick(canvas, Qt.Key_2)  # Road
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, canvas_point(window, 30, 30))
    qtbot.waitUntil(lambda: (dataset / "labels" / "img5_P.png").exists(), timeout=5000)
    assert np.asarray(Image.open(dataset / "labels" / "img5_P.png"))[30, 30] == 1
    qtbot.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, canvas_point(window, 10, 80))
    qtbot.keyClick(window, Qt.Key_PageUp)  # switching images saves the one that was on screen
    wait_shown(window, qtbot, "img4")
    qtbot.waitUntil(lambda: not window.writer.busy(), timeout=5000)
    assert np.asarray(Image.open(dataset / "labels" / "img5_P.png"))[10, 80] == 1
    assert window.session.current == "img4"
    assert window.session.project.status("img5") == "edited"


def test_navigation_keys(window, qtbot):
    qtbot.keyClick(window, Qt.Key_D)
    assert window.session.current == "img1"
    qtbot.keyClick(window, Qt.Key_PageDown)
    assert window.session.current == "img2"
    qtbot.keyClick(window, Qt.Key_A)
    assert window.session.current == "img1"
    qtbot.keyClick(window, Qt.Key_N)  # next image without a corrected mask
    assert window.session.current == "img3"


@pytest.mark.slow
def test_retrain_in_a_process_then_repropose_keeps_corrections(window, dataset, qtbot):
    corrected = {name: digest(dataset / "labels" / f"{name}_P.png") for name in ("img0", "img1", "img2")}
    window.jobs.train_args = ["--epochs", "2", "--encoder", "resnet18", "--encoder-weights", "none",
                         "--size", "64", "--batch-size", "2", "--threads", "1"]
    window.actions_by_name["retrain"].trigger()
    assert window.jobs.trainer is not None and window.jobs.trainer.is_running()
    assert not window.actions_by_name["retrain"].isEnabled()  # no second run while one is going
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    qtbot.waitUntil(lambda: window.jobs.trainer is None, timeout=180_000)
    assert list((dataset / "models").glob("model-*.safetensors")), messages[-5:]
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=120_000)  # the re-proposal after training
    statuses = window.session.project.statuses()
    assert [statuses[f"img{i}"] for i in range(6)] == ["corrected"] * 3 + ["proposed"] * 3, messages[-5:]
    qtbot.waitUntil(lambda: [window.files.status_text(i) for i in range(3, 6)] == ["proposed"] * 3, timeout=5000)
    for name, before in corrected.items():
        assert digest(dataset / "labels" / f"{name}_P.png") == before
    # Accept (Enter) on a proposal marks it corrected and moves on
    window.go_to(3)
    wait_shown(window, qtbot, "img3")
    qtbot.keyClick(window, Qt.Key_Return)
    qtbot.waitUntil(lambda: window.session.status("img3") == "corrected", timeout=5000)
    assert window.session.project.status("img3") == "corrected"
    assert window.session.current != "img3"


def test_cancel_stops_training_and_keeps_the_window_usable(window, dataset, qtbot):
    window.jobs.train_args = ["--epochs", "200", "--encoder", "resnet18", "--encoder-weights", "none",
                         "--size", "64", "--batch-size", "2", "--threads", "1"]
    window.actions_by_name["retrain"].trigger()
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=120_000)  # training is under way
    assert window.actions_by_name["cancel"].isEnabled()
    window.actions_by_name["cancel"].trigger()
    qtbot.waitUntil(lambda: window.jobs.trainer is None, timeout=30_000)
    assert not list((dataset / "models").glob("model-*.safetensors"))  # no half-trained model published
    assert "cancel" in window.statusBar().currentMessage().lower()
    assert window.actions_by_name["retrain"].isEnabled()
    qtbot.keyClick(window, Qt.Key_D)  # still responsive
    assert window.session.current == "img1"


def test_folder_without_codes_asks_for_classes(qtbot, tmp_path, monkeypatch):
    from labeltool.gui import classes_dialog

    write_image(tmp_path / "a.png", np.zeros((16, 16, 3), np.uint8))

    def answer(dialog):
        dialog.preset_button.click()  # the CamVid-11 preset
        dialog._accept()
        return True

    monkeypatch.setattr(classes_dialog.ClassesDialog, "exec", answer)
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.open_folder(str(tmp_path))
    wait_shown(win, qtbot, "a")
    assert (tmp_path / "codes.txt").read_text().splitlines()[0] == "Sky"
    assert win.session.project.codes[-1] == "Void" and win.session.names == ["a"]


def test_picking_an_image_in_the_list_gives_the_keys_to_the_canvas(window, qtbot):
    view = window.files.view
    rect = view.visualRect(view.model().index(3, 0))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    assert window.session.current == "img3"
    wait_shown(window, qtbot, "img3")
    qtbot.keyClick(window.editor.canvas.window().focusWidget() or window, Qt.Key_3)
    qtbot.keyClick(window.editor.canvas.window().focusWidget() or window, Qt.Key_F)
    assert window.editor.current_class() == 2 and window.editor.tool() == "fill"


def test_propose_without_a_model_explains_what_to_do(window, monkeypatch):
    shown = []
    monkeypatch.setattr("labeltool.gui.main_window.QMessageBox.information", lambda *a: shown.append(a[2]))
    window.actions_by_name["propose"].trigger()
    assert shown and "Retrain on my corrections" in shown[0]
    assert window.jobs.proposer is None

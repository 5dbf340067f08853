"""Edit > Change classes…: the dialog plans the change, the window shows the plan, makes it off the GUI thread
and opens the dataset again with the new list; a cancelled plan changes nothing; unsaved edits are saved
first (with the old numbers, before any mask is renumbered)."""

import threading

import numpy as np
import pytest
from _gui_window import never_block, open_window, wait_shown

from labeltool.gui import class_change_dialog, window_classes
from labeltool.workspace import class_change
from model.images.imageio import write_image
from model.project.codes import read_codes, write_codes
from model.project.project import Project

CODES = ["Sky", "Road", "Car", "Tree", "Void"]


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    never_block(monkeypatch, messages=True)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(root / "images" / f"img{i}.png", rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
    write_codes(root / "codes.txt", CODES)
    p = Project.open(root)
    for i, status in enumerate(("corrected", "edited", "proposed")):
        p.save_mask(f"img{i}", rng.integers(0, len(CODES), (12, 16)).astype(np.uint8), status,
                    model="m1" if status == "proposed" else None)
    p.db.close()
    return root


def names_per_pixel(root):
    p = Project.open(root)
    return {n: np.asarray(p.codes, dtype=object)[p.load_mask(n)] for n in p.names()}, p.statuses()


def drive_dialog(monkeypatch, act):
    """The dialog's exec: ``act(dialog)`` clicks what a person would, then Apply…."""
    seen = {}

    def exec_(dialog):
        seen["dialog"] = dialog
        act(dialog)
        dialog.apply()
        return int(dialog.change is not None)

    monkeypatch.setattr(class_change_dialog.ClassChangeDialog, "exec", exec_)
    return seen


def select(dialog, *names):
    dialog.list.clearSelection()
    for r in range(dialog.list.count()):
        item = dialog.list.item(r)
        item.setSelected(item.data(class_change_dialog.NAME) in names)


def confirm(win, monkeypatch, answer=True):
    plans = []

    def ask(change, lines):
        plans.append(lines)
        return answer

    monkeypatch.setattr(win, "confirm_class_change", ask)
    return plans


def test_rename_in_the_dialog_rewrites_codes_txt_and_the_palette_shown(qtbot, dataset, monkeypatch):
    before, statuses = names_per_pixel(dataset)
    win = open_window(qtbot, dataset)
    car_colour = tuple(win.editor.layer.palette[2])

    def rename(dialog):
        select(dialog, "Car")
        dialog.set_operation("rename")
        dialog.text.setText("Vehicle")

    drive_dialog(monkeypatch, rename)
    plans = confirm(win, monkeypatch)
    win.actions_by_name["change_classes"].trigger()
    qtbot.waitUntil(lambda: read_codes(dataset / "codes.txt")[2] == "Vehicle", timeout=8000)
    qtbot.waitUntil(lambda: win.session.project.codes[2] == "Vehicle" and win.shown is not None, timeout=8000)
    panel = win.editor.palette_panel.list
    assert [panel.item(r).data(0x0100) for r in range(panel.count())] == ["Sky", "Road", "Vehicle", "Tree", "Void"]
    assert tuple(win.editor.layer.palette[2]) == car_colour  # Vehicle is shown in Car's colour
    assert "Car -> Vehicle" in plans[0][0]
    after, statuses_after = names_per_pixel(dataset)
    for name in before:
        renamed = np.where(before[name] == "Car", "Vehicle", before[name])
        assert (after[name] == renamed).all(), name
    assert statuses_after == statuses
    assert any((dataset / "models").glob("codes-*.txt"))  # the old list, kept beside the models


def test_merge_in_the_dialog_keeps_each_pixels_meaning(qtbot, dataset, monkeypatch):
    before, statuses = names_per_pixel(dataset)
    win = open_window(qtbot, dataset)

    def merge(dialog):
        select(dialog, "Car", "Tree")
        dialog.set_operation("merge")
        dialog.text.setText("Thing")

    drive_dialog(monkeypatch, merge)
    confirm(win, monkeypatch)
    win.actions_by_name["change_classes"].trigger()
    qtbot.waitUntil(lambda: win.session.project.codes == ["Sky", "Road", "Thing", "Void"], timeout=8000)
    wait_shown(win, qtbot)
    after, statuses_after = names_per_pixel(dataset)
    for name in before:
        merged = np.where(np.isin(before[name], ["Car", "Tree"]), "Thing", before[name])
        assert (after[name] == merged).all(), name  # the numbers changed (Void 4 -> 3), the meaning did not
    assert statuses_after == statuses
    assert win.editor.layer.names == ["Sky", "Road", "Thing", "Void"]


def test_cancel_at_the_plan_changes_nothing(qtbot, dataset, monkeypatch):
    win = open_window(qtbot, dataset)
    files = {f: f.read_bytes() for f in sorted(dataset.rglob("*")) if f.is_file() and "record.sqlite" not in f.name}

    def split(dialog):
        select(dialog, "Road")
        dialog.set_operation("split")
        dialog.text.setText("Asphalt, Gravel")

    drive_dialog(monkeypatch, split)
    plans = confirm(win, monkeypatch, answer=False)
    win.actions_by_name["change_classes"].trigger()
    qtbot.waitUntil(lambda: bool(plans) and win.class_change_refusal() is None, timeout=8000)
    assert any("ambiguous pixels" in line for line in plans[0])  # the plan says which masks need a person
    after = {f: f.read_bytes() for f in sorted(dataset.rglob("*")) if f.is_file() and "record.sqlite" not in f.name}
    assert after == files
    assert win.session.project.codes == CODES and win.editor.isEnabled()


def test_a_refused_plan_stays_in_the_dialog(qtbot):
    palette = np.zeros((len(CODES), 3), np.uint8)
    dialog = class_change_dialog.ClassChangeDialog(CODES, palette)
    qtbot.addWidget(dialog)
    select(dialog, "Car")
    dialog.set_operation("rename")
    dialog.text.setText("Road")  # a name that exists: the rule of codes.txt (model.project.classes) says no
    dialog.apply()
    assert dialog.change is None and "Road" in dialog.error.text()
    select(dialog, "Void")
    dialog.move_selected(-1)
    assert dialog.order() == ["Sky", "Road", "Car", "Void", "Tree"] and dialog.operation.currentText() == "reorder"
    dialog.set_counts([(1, 10), (0, 0), (2, 5), (1, 1), (3, 30)])
    assert "2 mask(s), 5 px" in dialog.list.item(2).text()


def test_the_change_runs_off_the_gui_thread_and_unsaved_edits_are_saved_first(qtbot, dataset, monkeypatch):
    win = open_window(qtbot, dataset)
    wait_shown(win, qtbot)
    shown = win.shown
    layer = win.editor.layer
    layer.mask[:] = CODES.index("Car")
    win.editor.mark_saved(-1)  # edits on screen, not saved yet
    threads = []
    real = class_change.run_change

    def run_change(root, change, dry_run):
        threads.append(threading.current_thread())
        return real(root, change, dry_run)

    monkeypatch.setattr(window_classes.class_change, "run_change", run_change)
    confirm(win, monkeypatch)
    from model.project.classes import plan_reorder

    assert win.start_class_change(plan_reorder(CODES, ["Void", "Car", "Sky", "Road", "Tree"]))
    assert not win.editor.isEnabled()  # no edits while it runs; the window keeps answering
    qtbot.waitUntil(lambda: win.session.project.codes[0] == "Void" and win.shown is not None, timeout=8000)
    assert len(threads) == 2 and all(t is not threading.main_thread() for t in threads)
    names, _ = names_per_pixel(dataset)
    assert (names[shown] == "Car").all()  # saved with the old numbers, then renumbered: still Car


def test_a_window_open_during_a_change_elsewhere_saves_nothing_with_the_old_numbers(qtbot, dataset):
    win = open_window(qtbot, dataset)
    shown = win.shown
    label = dataset / "labels" / f"{shown}_P.png"
    win.editor.layer.mask[:] = CODES.index("Tree")
    win.editor.mark_saved(-1)
    from model.project.classes import plan_reorder

    class_change.run_change(dataset, plan_reorder(CODES, ["Tree", "Car", "Sky", "Road", "Void"]), False)  # a terminal
    written = label.read_bytes()
    assert not win.save()  # refused by the engine: 3 means Tree here, 0 on disk now
    assert label.read_bytes() == written
    assert "class list was changed" in str(win.saves.first_failed()[2])


@pytest.mark.parametrize("answer", [True, False])
def test_a_codes_txt_reordered_by_hand_is_put_back_only_when_asked(qtbot, dataset, monkeypatch, answer):
    from labeltool.gui.main_window import MainWindow

    Project.open(dataset).db.close()  # the record remembers the list
    before, statuses = names_per_pixel(dataset)
    write_codes(dataset / "codes.txt", ["Road", "Sky", "Car", "Tree", "Void"])  # by hand: every mask would change
    asked = []
    monkeypatch.setattr(MainWindow, "ask_codes_back", lambda self, root, text: asked.append(text) or answer)
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.open_folder(str(dataset)) is answer
    assert "Sky and Road swapped places" in asked[0]
    assert ("Change classes" in win.statusBar().currentMessage()) is answer
    assert read_codes(dataset / "codes.txt") == (CODES if answer else ["Road", "Sky", "Car", "Tree", "Void"])
    assert len(list(dataset.glob("codes.txt.edited-*"))) == int(answer)  # the hand-edited file is kept
    if answer:
        wait_shown(win, qtbot)
        assert win.session.project.codes == CODES
        assert all((a == b).all() for a, b in zip(names_per_pixel(dataset)[0].values(), before.values(), strict=True))
    else:
        assert win.session is None

"""Image > Resolve merge conflict…: enabled on a conflicted image, both masks side by side, take mine, theirs,
or theirs for the ticked classes; the choice is written and the image shown again from its file."""

import numpy as np
import pytest
from _gui_window import never_block, open_window
from _merge_copies import H, W, two_copies

from labeltool.gui.merge_dialog import MergeConflictDialog
from model.project.merge_apply import combine, merge, read_conflicts
from model.project.palette import default_palette
from model.project.project import Project

CODES = ["Sky", "Road", "Car", "Void"]


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    never_block(monkeypatch)


def test_the_dialog_previews_theirs_for_the_ticked_class(qtbot):
    ours = np.zeros((H, W), np.uint8)
    theirs = ours.copy()
    theirs[:2] = 2  # Car where ours says Sky
    theirs[4:] = 1  # Road where ours says Sky
    entry = {"ours": {"status": "corrected", "by": "me"}, "theirs": {"status": "corrected", "by": "ann"}}
    dialog = MergeConflictDialog("a", np.zeros((H, W, 3), np.uint8), ours, theirs, CODES, default_palette(CODES),
                                 entry)
    qtbot.addWidget(dialog)
    assert set(dialog.boxes) == {0, 1, 2}  # only classes that differ are offered
    assert not dialog.combined_button.isEnabled()
    dialog.boxes[2].setChecked(True)
    assert (dialog.result_mask == combine(ours, theirs, {2})).all()
    assert dialog.result_mask[:2].tolist() == theirs[:2].tolist() and not dialog.result_mask[4:].any()
    dialog.combined_button.click()
    assert dialog.choice == "combined"


@pytest.mark.parametrize("choice", ["theirs", "combined"])
def test_resolving_in_the_window_writes_the_choice(qtbot, tmp_path, monkeypatch, choice):
    ours_root, theirs_root = two_copies(tmp_path, [("corrected", "corrected"), ("none", "none")])
    merge(Project.open(ours_root), theirs_root)
    theirs_bytes = (theirs_root / "labels" / "corrected__corrected_P.png").read_bytes()
    win = open_window(qtbot, ours_root)
    win.go_to(win.session.names.index("corrected__corrected"))
    action = win.actions_by_name["resolve_conflict"]
    qtbot.waitUntil(action.isEnabled, timeout=8000)
    asked = {}

    def answer(name, image, ours, theirs, entry):
        asked.update(name=name, differ=int((ours != theirs).sum()), by=entry["theirs"]["by"])
        return choice, combine(ours, theirs, {2})

    monkeypatch.setattr(win, "ask_merge_choice", answer)
    action.trigger()
    label = ours_root / "labels" / "corrected__corrected_P.png"
    if choice == "theirs":
        qtbot.waitUntil(lambda: label.read_bytes() == theirs_bytes, timeout=8000)
    else:
        qtbot.waitUntil(lambda: not read_conflicts(ours_root / ".labeltool"), timeout=8000)
        assert (Project.open(ours_root).load_mask("corrected__corrected") == 2).sum() == H * W - 1
    assert asked["name"] == "corrected__corrected" and asked["differ"] == H * W - 1
    qtbot.waitUntil(lambda: not action.isEnabled(), timeout=8000)
    assert not read_conflicts(ours_root / ".labeltool")

"""After Accept, the window tells its proposal child what was accepted (issue 18), once the save is written:
the child then proposes the next frames of that image's sequence again from its warp."""

from __future__ import annotations

import pytest
from _gui_window import never_block, open_window
from PySide6.QtCore import Qt

from labeltool.gui.proposal_server import ServeProcess
from model.project.project import Project
from tests._train_data import make_dataset, with_unproposed_images


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    never_block(monkeypatch)


def test_accept_tells_the_child_what_was_accepted_after_the_save(tmp_path, qtbot, monkeypatch):
    import sys

    root = with_unproposed_images(make_dataset(tmp_path / "ds", count=4, size=64), ["img02", "img03"])
    Project.open(root).set_status("img00", "edited")  # a person's unchecked mask: Accept makes it corrected
    code = "import json, sys\nprint(json.dumps({'event': 'start'}), flush=True)\nsys.stdin.read()"
    monkeypatch.setattr(ServeProcess, "start", lambda self: self.process.start(sys.executable, ["-c", code]))
    window = open_window(qtbot, root)
    qtbot.waitUntil(lambda: window.proposals.running() and window.proposals.child.started, timeout=10_000)
    child = window.proposals.child
    assert window.session.current == "img00"
    qtbot.keyClick(window, Qt.Key_Return)  # Accept
    qtbot.waitUntil(lambda: {"accepted": ["img00"]} in child.sent, timeout=10_000)
    assert Project.open(root).status("img00") == "corrected"  # written before the child was told
    assert [m for m in child.sent if "accepted" in m] == [{"accepted": ["img00"]}]  # autosaves are not told
    window.close()

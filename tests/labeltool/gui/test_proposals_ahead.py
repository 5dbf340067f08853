"""The window's proposal child (labeltool/gui/proposal_server.py): the image after Accept opens with the
proposal the child wrote while the annotator worked on the one before; the image on screen gets its own."""

from __future__ import annotations

import numpy as np
import pytest
from _gui_window import never_block, open_window, wait_shown
from PySide6.QtCore import Qt

from tests._train_data import make_dataset, with_unproposed_images


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    never_block(monkeypatch)


@pytest.fixture
def dataset(tmp_path):
    root = make_dataset(tmp_path / "ds", count=6, size=64)
    return with_unproposed_images(root, [f"img{i:02d}" for i in range(1, 6)])  # img00 stays corrected


@pytest.mark.slow  # a real child process (it imports torch)
def test_after_accept_the_next_image_opens_with_the_proposal_the_child_wrote(dataset, qtbot):
    window = open_window(qtbot, dataset)
    shown = []
    window.imageShown.connect(lambda name, with_mask: shown.append((name, with_mask)))
    assert window.session.current == "img00"
    # while the annotator looks at img00, the child proposes the next two images and the window decodes them
    qtbot.waitUntil(lambda: window.loader.cached("img01") and window.session.status("img01") == "proposed",
                    timeout=90_000)
    assert window.proposals.child.sent[-1] == {"plan": ["img01", "img02"]}
    qtbot.keyClick(window, Qt.Key_Return)  # Accept: img00 is saved as corrected, the next one opens
    assert window.shown == "img01" and shown[-1] == ("img01", True)  # at once, with its proposal
    on_disk = window.session.project.load_mask("img01")
    assert np.array_equal(window.editor.layer.mask, on_disk)
    assert window.session.project.status("img01") == "proposed"
    qtbot.waitUntil(lambda: window.session.project.status("img00") == "corrected", timeout=5000)
    # an image nobody proposed yet: it opens without a mask, and its proposal appears when written
    window.go_to(window.session.row_of["img05"])
    wait_shown(window, qtbot, "img05")
    qtbot.waitUntil(lambda: shown[-1] == ("img05", True), timeout=60_000)
    assert not window.editor.is_dirty() and window.session.project.status("img05") == "proposed"
    assert window.session.project.status("img00") == "corrected"
    child = window.proposals.child
    window.close()
    assert not child.is_running()  # closing the window ends the child


def fake_child(monkeypatch, code: str) -> None:
    """The proposal child replaced by a small Python program (no torch): ``code`` runs as the child."""
    import sys

    from labeltool.gui.proposal_server import ServeProcess

    def start(self):
        self.process.start(sys.executable, ["-c", code])

    monkeypatch.setattr(ServeProcess, "start", start)


def test_a_crashing_child_is_one_status_line_and_the_window_works_on(dataset, qtbot, monkeypatch):
    fake_child(monkeypatch, "import sys; print('boom', file=sys.stderr); sys.exit(3)")
    messages = []
    window = open_window(qtbot, dataset)
    window.statusBar().messageChanged.connect(messages.append)
    qtbot.waitUntil(lambda: any("Proposing ahead stopped" in m for m in messages), timeout=10_000)
    assert [m for m in messages if "Proposing ahead stopped" in m] == \
        ["Proposing ahead stopped (Proposing ahead failed: boom); proposals come from Propose and Retrain"]
    assert window.proposals.child is None
    qtbot.keyClick(window, Qt.Key_D)
    wait_shown(window, qtbot, "img01")


def test_the_child_stops_during_a_retrain_and_starts_again_after(dataset, qtbot, monkeypatch):
    fake_child(monkeypatch, "import json, sys\nprint(json.dumps({'event': 'start'}), flush=True)\nsys.stdin.read()")
    window = open_window(qtbot, dataset)
    qtbot.waitUntil(lambda: window.proposals.running() and window.proposals.child.started, timeout=10_000)
    first = window.proposals.child
    window.jobs.started.emit("retrain")  # a retrain changes the model: the child goes
    assert window.proposals.child is None
    qtbot.waitUntil(lambda: not first.is_running(), timeout=10_000)  # it exits when its stdin closes
    window.jobs.finished.emit()
    qtbot.waitUntil(lambda: window.proposals.running(), timeout=10_000)
    assert window.proposals.child is not first

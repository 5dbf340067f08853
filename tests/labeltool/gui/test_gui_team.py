"""A team's tools in the window (issue 19): the pixels two annotators disagree on shown over the image, the
consensus put into the editor as one undo step with the undecided pixels left for the reviewer, the
agreement table, and the audit's most disputed masks first in the list."""

import json

import numpy as np
import pytest
from _gui_window import never_block, open_window, wait_shown

from model.atomic import atomic_write_bytes, atomic_write_text
from model.images.imageio import encode_mask, write_image
from model.project.audit_record import audit_path, plane_path
from model.project.codes import write_codes
from model.project.opinions import file_opinion
from model.project.project import Project

CODES = ["Sky", "Road", "Car", "Void"]
H, W = 48, 64


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    never_block(monkeypatch, messages=True)


def annotators_masks():
    alice = np.zeros((H, W), np.uint8)
    alice[24:] = 1
    alice[30:40, 10:30] = 2  # a car
    bob = alice.copy()
    bob[30:40, 10:20] = 1  # bob saw half of it as road
    return alice, bob


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(root / "images" / f"img{i}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    write_codes(root / "codes.txt", CODES)
    project = Project.open(root)
    alice, bob = annotators_masks()
    for who, mask in (("bob", bob), ("alice", alice)):  # alice's stays in labels/
        monkeypatch.setenv("LABELTOOL_ANNOTATOR", who)
        project.save_mask("img0", mask, "corrected")
        file_opinion(project.state_dir, "img0", project.label_path("img0").read_bytes())
    monkeypatch.setenv("LABELTOOL_ANNOTATOR", "rita")
    project.save_mask("img1", alice, "corrected")
    project.save_mask("img2", alice, "corrected")
    return root


@pytest.fixture
def window(qtbot, dataset):
    win = open_window(qtbot, dataset)
    win.session.sort("name")
    win.files.resorted()
    win.go_to(0)
    wait_shown(win, qtbot, "img0")
    return win


def test_disagreement_shown_and_consensus_is_one_undo_step(window, qtbot):
    alice, bob = annotators_masks()
    window.actions_by_name["show_disputed"].trigger()
    qtbot.waitUntil(lambda: window.team_facts is not None, timeout=5000)
    assert window.team_facts.kind == "disagreement"
    assert (window.team_facts.plane == (alice != bob)).all()
    window.editor.canvas.layer.paint_region((0, 0, 2, 2), np.ones((2, 2), bool), 3)  # something on screen first
    before = window.editor.layer.mask.copy()
    window.actions_by_name["consensus"].trigger()
    qtbot.waitUntil(lambda: window.editor.is_dirty() and (window.editor.layer.mask != before).any()
                    or "undecided" in window.statusBar().currentMessage(), timeout=5000)
    mask = window.editor.layer.mask
    agreed = alice == bob
    assert (mask[agreed] == alice[agreed]).all()          # where they agree: their class
    assert (mask[~agreed] == before[~agreed]).all()       # undecided: what was on screen, for the reviewer
    assert f"{int((~agreed).sum())} undecided" in window.statusBar().currentMessage()
    window.editor.undo()
    assert (window.editor.layer.mask == before).all()     # one step


def test_the_agreement_table(window, qtbot):
    window.actions_by_name["agreement"].trigger()
    qtbot.waitUntil(lambda: getattr(window, "agreement_dialog", None) is not None, timeout=5000)
    dialog = window.agreement_dialog
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert rows["Sky"] == "1.000" and float(rows["Car"]) == pytest.approx(0.5) and "Void" not in rows
    assert dialog.images.count() == 1 and dialog.images.item(0).text().startswith("img0")
    assert "alice, bob" in dialog.summary.text()
    dialog.close()


def test_after_an_audit_the_most_disputed_come_first_and_their_pixels_show(window, qtbot, dataset):
    project = window.session.project
    records = project.records()
    plane = np.zeros((H, W), bool)
    plane[:5, :7] = True
    rows = {}
    for name, count in (("img1", 3), ("img2", int(plane.sum()))):
        rows[name] = {"model": "m", "disputed": count, "share": 0.01, "threshold": 0.9,
                      "pixels": records[name].pixels, "at": "2026-12-05T00:00:00"}
    atomic_write_text(audit_path(project.state_dir), json.dumps(rows))
    path = plane_path(project.state_dir, "img2")
    atomic_write_bytes(path, encode_mask(np.where(plane, 255, 0).astype(np.uint8), None, path))
    window._job_root = project.root  # as run_audit sets it when it starts the child
    window.jobs.audited.emit({"audited": 2, "no_model": ["img0"]})  # what the audit child's done event says
    qtbot.waitUntil(lambda: window.session.order_mode == "disputed", timeout=5000)
    assert [window.session.names[i] for i in window.session.order][:2] == ["img2", "img1"]
    assert window.files.order.currentData() == "disputed"
    model = window.files.view.model()
    assert model.data(model.index(0, 3)) == "35 disputed"  # img2's row, first
    window.go_to(window.session.names.index("img2"))
    wait_shown(window, qtbot, "img2")
    window.actions_by_name["show_disputed"].trigger()
    qtbot.waitUntil(lambda: window.team_facts is not None and window.team_facts.kind == "disputed", timeout=5000)
    assert (window.team_facts.plane == plane).all()

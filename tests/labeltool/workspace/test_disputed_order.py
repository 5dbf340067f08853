"""The list's "Most disputed first" order (issue 19): the masks a held-out model disputes most come first;
a mask saved again since its audit drops out of the audited group at once (a stale row never ranks it)."""

import json

import numpy as np
from _status_data import make, striped

from labeltool.workspace.loader import open_project
from labeltool.workspace.session import Session
from model.atomic import atomic_write_text
from model.project.audit_record import audit_path


def status_project(tmp_path):
    project = make(tmp_path / "p")
    for i, name in enumerate(project.names()):
        project.save_mask(name, striped(i), "corrected" if i < 3 else "edited")
    return project


def audit_rows(project, counts):
    records = project.records()
    return {name: {"model": "m", "disputed": n, "share": 0.1, "threshold": 0.9, "pixels": records[name].pixels,
                   "at": "2026-12-05T00:00:00"} for name, n in counts.items()}


def test_most_disputed_first_then_the_rest_and_a_resaved_mask_drops_out(tmp_path):
    project = status_project(tmp_path)
    checked = [n for n, s in project.statuses().items() if s in ("corrected", "reviewed")]
    assert len(checked) >= 2
    first, second = checked[:2]
    session = Session(project, records=project.records())
    session.set_audit(audit_rows(project, {first: 5, second: 900}))
    session.sort("disputed")
    ordered = [session.names[i] for i in session.order]
    assert ordered[:2] == [second, first]
    assert session.disputes(second) == 900
    mask = project.load_mask(second)
    mask[0, 0] = (int(mask[0, 0]) + 1) % (len(project.codes) - 1)
    project.save_mask(second, mask, "corrected")  # fixed since the audit
    session.update(second, "corrected", project.record(second))
    assert session.disputes(second) is None
    session.sort()
    assert [session.names[i] for i in session.order][0] == first


def test_the_window_opens_with_the_audit_and_the_saved_order(tmp_path):
    project = status_project(tmp_path)
    checked = [n for n, s in project.statuses().items() if s in ("corrected", "reviewed")]
    atomic_write_text(audit_path(project.state_dir), json.dumps(audit_rows(project, {checked[-1]: 42})))
    project.set_setting("order", "disputed")
    opened = open_project(project.root)
    assert opened.order_saved and opened.session.order_mode == "disputed"
    assert opened.session.names[opened.session.order[0]] == checked[-1]
    assert np.isnan(opened.session.disputed).sum() == len(opened.session.names) - 1


def test_assigned_to_me_shows_and_walks_only_my_images(tmp_path, monkeypatch):
    from model.project.assignment import plan_assignment, write_assignment

    project = status_project(tmp_path)
    assignment = plan_assignment(project.names(), ["alice", "bob"], overlap=0.25)
    write_assignment(project.state_dir, assignment)
    monkeypatch.setenv("LABELTOOL_ANNOTATOR", "bob")
    session = open_project(project.root).session
    session.set_filter("mine")
    mine = sorted(assignment["assigned"]["bob"])
    assert sorted(session.names[i] for i in session.shown()) == mine and len(mine) < len(project.names())
    walked, index = [], session.step(1)
    while index is not None:
        walked.append(session.names[index])
        session.index = index
        index = session.step(1)
    assert sorted(walked) == mine
    other = next(n for n in project.names() if n not in mine)
    assert not session.would_show(other, "none") and session.would_show(mine[0], "none")

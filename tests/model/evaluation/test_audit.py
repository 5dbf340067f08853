"""The audit (issue 19): a model that never saw an image flags the corrected pixels it confidently disputes;
the likely mistakes come first, a model never audits what it learned from, a stale row is not shown."""

import json

import numpy as np
import pytest
from _inference_data import CODES, make_project, save_constant_model

from labeltool.cli import main
from model.evaluation import audit as audit_module
from model.evaluation.audit import audit
from model.inference.predict import Prediction
from model.project.audit_record import current_disputes, read_audit, read_plane
from model.project.project import Project


class ColourPredictor:
    """Stands in for the network: sure (0.99) that each pixel is its dominant colour's class."""

    def __init__(self, *_args, **_kwargs):
        pass

    def predict(self, image):
        return Prediction(np.asarray(image)[..., :3].argmax(axis=2).astype(np.uint8),
                          np.full(image.shape[:2], 0.99, np.float32))


def project_truth_green(project):
    """Where img02's image is green: the model agrees with the mask there."""
    from model.images.imageio import read_image

    return read_image(project.image_path("img02"))[..., 1] == 255


@pytest.fixture()
def project(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_module, "Predictor", ColourPredictor)
    root = make_project(tmp_path / "p", count=4, labelled=(0, 1, 2, 3), valid=())
    save_constant_model(root / "models", CODES, winner=0)  # its card: trained on img01 only
    project = Project.open(root)
    truth = project.load_mask("img02")
    project.save_mask("img02", np.ones_like(truth), "corrected")  # everything called Green: mostly wrong
    return project


def test_a_wrong_mask_is_disputed_first_and_no_model_audits_what_it_learned_from(project):
    run = audit(project)
    assert run.no_model == ["img01"]  # the only model learned from img01
    assert run.ranked()[0] == "img02"
    img02 = run.rows["img02"]
    assert img02["disputed"] > 8 * 16 and img02["disputed"] == int((read_plane(project, "img02")).sum())
    assert run.rows["img03"]["disputed"] == 0  # a right mask: nothing disputed
    assert run.rows["img00"]["disputed"] == 8 * 16  # its Green rows under a blue image; Void rows not scored
    plane = read_plane(project, "img02")
    assert plane.sum() == img02["disputed"] and not plane[project_truth_green(project)].any()
    assert set(read_audit(project.state_dir)) == {"img00", "img02", "img03"}


def test_a_mask_changed_after_its_audit_is_not_shown_as_audited(project):
    audit(project)
    disputes = current_disputes(read_audit(project.state_dir), project.records())
    assert disputes["img02"] > 0
    project.save_mask("img02", project.load_mask("img03") * 0 + 2, "corrected")  # corrected again since
    assert "img02" not in current_disputes(read_audit(project.state_dir), project.records())
    project.save_mask("img03", project.load_mask("img03"), "edited")  # no longer checked: not audited
    assert "img03" not in current_disputes(read_audit(project.state_dir), project.records())


def test_a_model_made_for_another_class_list_never_audits(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_module, "Predictor", ColourPredictor)
    root = make_project(tmp_path / "p", count=3, labelled=(0, 1, 2), valid=())
    save_constant_model(root / "models", ["Sky", "Road", "Car", "Void"], winner=0)
    run = audit(Project.open(root))
    assert run.rows == {} and run.no_model == ["img00", "img01", "img02"]


def test_the_command_speaks_the_progress_protocol(project, capsys):
    project.db.close()
    assert main(["audit", str(project.root), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["start", "audited", "audited", "audited", "done"]
    assert events[-1]["no_model"] == ["img01"] and list(events[-1]["disputed"])[0] == "img02"


def test_a_mask_whose_record_keeps_no_pixel_hash_is_audited_by_its_file(project):
    """A person's mask the record only re-read from its file (copied in by a merge, say) has no pixel hash in
    the record: the audit row holds while the file's size and time are those audited."""
    import dataclasses
    import os

    audit(project)
    records = {n: dataclasses.replace(r, pixels=None) for n, r in project.records().items()}
    assert set(current_disputes(read_audit(project.state_dir), records)) == {"img00", "img02", "img03"}
    path = project.label_path("img03")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # rewritten since
    project.status("img03")
    records = {n: dataclasses.replace(r, pixels=None) for n, r in project.records().items()}
    assert set(current_disputes(read_audit(project.state_dir), records)) == {"img00", "img02"}

"""propose_dataset: corrected masks untouched, proposals written with confidence, refusals, cancel."""

from __future__ import annotations

import numpy as np
import pytest
from _inference_data import CODES, IDENTITY_NORM, ColourNet, make_project, save_constant_model
from PIL import Image

from model.errors import DatasetError, ModelFileError
from model.images.imageio import read_image
from model.inference.predict import Predictor
from model.inference.propose import propose_dataset
from model.project.confidence import rank_by_uncertainty, read_confidence, read_uncertainty
from model.project.project import Project


@pytest.fixture
def project(tmp_path):
    return Project.open(make_project(tmp_path / "ds", count=5, labelled=(0, 1)))


def _colour_predictor():
    return Predictor(ColourNet(), {"classes": CODES, "normalization": IDENTITY_NORM}, device="cpu")


def test_propose_with_saved_model_never_touches_corrected_masks(project):
    save_constant_model(project.models_dir, CODES, winner=2)
    before = {n: project.label_path(n).read_bytes() for n in ("img00", "img01")}
    seen = []
    written = propose_dataset(project, on_progress=lambda d, t, n: seen.append((d, t, n)), batch_size=2)
    assert written == ["img02", "img03", "img04"]
    assert seen[-1][:2] == (3, 3) and [s[2] for s in seen] == written
    for name, data in before.items():
        assert project.label_path(name).read_bytes() == data
        assert project.status(name) == "corrected"
    for name in written:
        assert project.status(name) == "proposed"
        assert (project.load_mask(name) == 2).all()  # the model always says Blue
        conf = read_confidence(project.confidence_path(name))
        assert conf.shape == (32, 32) and 0.0 <= conf.min() <= conf.max() <= 1.0
    scores = read_uncertainty(project)
    assert set(scores) == set(written) and all(0.0 < v <= 1.0 for v in scores.values())
    # a second run replaces proposals (status proposed) but still not corrected masks
    assert propose_dataset(project) == written


def test_proposal_masks_follow_the_model_and_rank_by_uncertainty(project):
    written = propose_dataset(project, predictor=_colour_predictor())
    for name in written:
        image = read_image(project.image_path(name))
        expected = np.argmax(image, axis=2)
        np.testing.assert_array_equal(project.load_mask(name), expected)
    assert set(rank_by_uncertainty(project)) == set(written)


def test_rank_puts_the_least_certain_proposal_first(project):
    """Solid red images of different brightness: the dimmer the red, the less sure ColourNet is. The
    brightness order is neither name order nor its reverse, so only a real ranking passes."""
    brightness = {"img02": 30, "img03": 255, "img04": 100}  # least sure: img02, then img04, then img03
    for name, value in brightness.items():
        image = np.zeros((32, 32, 3), np.uint8)
        image[..., 0] = value
        Image.fromarray(image).save(project.image_path(name))
    written = propose_dataset(project, predictor=_colour_predictor())
    assert written == ["img02", "img03", "img04"]
    scores = read_uncertainty(project)
    assert scores["img02"] < scores["img04"] < scores["img03"]
    ranking = rank_by_uncertainty(project)
    assert ranking == ["img02", "img04", "img03"]
    assert [scores[n] for n in ranking] == sorted(scores[n] for n in ranking)
    # a correction leaves the ranking; the rest keep their order
    project.save_mask("img04", np.zeros((32, 32), np.uint8), "corrected")
    assert rank_by_uncertainty(project) == ["img02", "img03"]


def test_image_corrected_during_the_run_is_not_overwritten(project):
    corrected = np.full((32, 32), 1, np.uint8)

    def on_progress(done, total, name):
        if name == "img02":  # a person saves img03 in the app while img02..04 are being proposed
            project.save_mask("img03", corrected, "corrected")

    written = propose_dataset(project, predictor=_colour_predictor(), on_progress=on_progress, batch_size=4)
    assert "img03" not in written and "img02" in written
    np.testing.assert_array_equal(project.load_mask("img03"), corrected)
    assert project.status("img03") == "corrected"
    assert not project.confidence_path("img03").exists()


def test_class_mismatch_is_refused_naming_both_lists(project):
    path = save_constant_model(project.models_dir, ["Sky", "Road", "Void"], winner=0)
    with pytest.raises(ModelFileError, match=r"Sky.*Red|Red.*Sky"):
        propose_dataset(project, model_path=path)
    wrong = Predictor(ColourNet(), {"classes": ["A", "B", "C", "Void"], "normalization": IDENTITY_NORM}, device="cpu")
    with pytest.raises(ModelFileError):
        propose_dataset(project, predictor=wrong)
    assert project.status("img02") == "none"


def test_no_model_is_a_clear_error(project):
    with pytest.raises(ModelFileError, match="no trained model"):
        propose_dataset(project)


def test_cancel_stops_between_images(project):
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 2  # allow the batch check and one image

    written = propose_dataset(project, predictor=_colour_predictor(), cancel=cancel, batch_size=4)
    assert written == ["img02"]
    assert project.status("img03") == "none" and project.status("img04") == "none"
    assert set(read_uncertainty(project)) == {"img02"}


def test_names_limits_the_run_and_unknown_name_raises(project):
    assert propose_dataset(project, predictor=_colour_predictor(), names=["img04", "img00"]) == ["img04"]
    with pytest.raises(DatasetError, match="nope"):
        propose_dataset(project, predictor=_colour_predictor(), names=["nope"])


def test_predict_under_torchrun_shards_the_images_and_keeps_one_record(tmp_path):
    """Two processes, disjoint slices, every image proposed once, corrections untouched."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = make_project(tmp_path / "ds", count=7, labelled=(0,))
    project = Project.open(root)
    save_constant_model(project.models_dir, CODES, winner=2)
    before = project.label_path("img00").read_bytes()
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3]), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "labeltool", "predict",
                          str(root), "--json", "--device", "cpu"], env=env, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    starts = [e for e in events if e["event"] == "start"]
    assert sorted(e["rank"] for e in starts) == [0, 1]
    done = [e for e in events if e["event"] == "done"]
    per_rank = [set(e["written"]) for e in done]
    assert len(per_rank) == 2 and not (per_rank[0] & per_rank[1])
    assert per_rank[0] | per_rank[1] == {f"img{i:02d}" for i in range(1, 7)}
    fresh = Project.open(root)
    assert project.label_path("img00").read_bytes() == before
    assert {n: s for n, s in fresh.statuses().items() if s == "proposed"}.keys() == per_rank[0] | per_rank[1]

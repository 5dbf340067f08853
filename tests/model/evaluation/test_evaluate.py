"""evaluate: hand-computed metrics on a deterministic model, --json output, files, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _inference_data import CODES, IDENTITY_NORM, ColourNet, H, W, make_project, save_constant_model
from PIL import Image

from labeltool.cli import main
from model.errors import DatasetError, ModelFileError
from model.evaluation.evaluate import evaluate_project, render_confusion
from model.inference.predict import Predictor
from model.project.project import Project

# img00 (32x32): left half red, truth Red (512 px); right half blue: 128 px Void (not scored),
# 128 px labelled Green, 256 px labelled Blue. img03 is in valid.txt but has no mask: not scored.


def test_colour_model_hand_computed(tmp_path):
    project = Project.open(make_project(tmp_path / "ds", labelled=(0, 1), valid=(0, 3)))
    predictor = Predictor(ColourNet(), {"classes": CODES, "normalization": IDENTITY_NORM}, device="cpu")
    result = evaluate_project(project, predictor=predictor)
    assert result["images"] == ["img00"]
    assert result["confusion"] == [[512, 0, 0, 0], [0, 0, 128, 0], [0, 0, 256, 0], [0, 0, 0, 0]]
    assert result["pixel_accuracy"] == pytest.approx(768 / 896)
    assert result["per_class_iou"] == {"Red": 1.0, "Green": 0.0, "Blue": pytest.approx(256 / 384)}
    assert result["miou"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    saved = json.loads((project.models_dir / "eval-valid.json").read_text())
    for key in ("images", "confusion", "pixel_accuracy", "per_class_iou", "miou"):
        assert saved[key] == result[key], key
    # the picture shows this matrix: Red -> Red, Green -> Blue and Blue -> Blue at 100 %, nothing else
    png = np.asarray(Image.open(project.models_dir / "eval-valid-confusion.png").convert("RGB"))
    expected = np.asarray(render_confusion(np.array(result["confusion"]), CODES, ignore_index=3))
    np.testing.assert_array_equal(png, expected)
    assert _cells_shaded(png, 1.0) == 3 and _cells_shaded(png, 0.5) == 0
    other = np.asarray(render_confusion(np.array([[256, 256, 0, 0], [0, 0, 128, 0], [0, 0, 256, 0], [0, 0, 0, 0]]),
                                        CODES, ignore_index=3))
    assert _cells_shaded(other, 1.0) == 2 and _cells_shaded(other, 0.5) == 2


def test_cli_json_with_saved_model(tmp_path, capsys):
    root = make_project(tmp_path / "ds", labelled=(0, 1, 2), valid=(0,), test=(2,))
    save_constant_model(Project.open(root).models_dir, CODES, winner=2)  # always Blue
    assert main(["evaluate", str(root), "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out)  # exactly one JSON object
    assert {"pixel_accuracy", "miou", "per_class_iou", "confusion"} <= set(result)
    assert result["confusion"] == [[0, 0, 512, 0], [0, 0, 128, 0], [0, 0, 256, 0], [0, 0, 0, 0]]
    assert result["pixel_accuracy"] == pytest.approx(256 / 896)
    assert result["per_class_iou"] == {"Red": 0.0, "Green": 0.0, "Blue": pytest.approx(256 / 896)}
    assert result["miou"] == pytest.approx(256 / 896 / 3)
    # the test split scores img02 only, and saves its own file
    assert main(["evaluate", str(root), "--split", "test", "--json"]) == 0
    test_result = json.loads(capsys.readouterr().out)
    assert test_result["images"] == ["img02"]
    assert (root / "models" / "eval-test.json").is_file()
    # human output: a table naming the classes
    assert main(["evaluate", str(root)]) == 0
    text = capsys.readouterr().out
    assert "mIoU" in text and "Green" in text and "eval-valid-confusion.png" in text


def test_clear_errors(tmp_path, capsys):
    with pytest.raises(ModelFileError, match="no trained model"):
        evaluate_project(Project.open(make_project(tmp_path / "fine", labelled=(0,), valid=(0,))))
    root = make_project(tmp_path / "ds", labelled=(1,), valid=(0, 3))
    project = Project.open(root)
    save_constant_model(project.models_dir, CODES, winner=0)
    with pytest.raises(DatasetError, match="valid.txt.*corrected"):
        evaluate_project(project)
    with pytest.raises(DatasetError, match="test.txt"):
        evaluate_project(project, split="test")
    other = make_project(tmp_path / "other", labelled=(0,), valid=(0,))
    wrong = save_constant_model(tmp_path / "m", ["Sky", "Road", "Void"], winner=0)
    assert main(["evaluate", str(other), "--model", str(wrong), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Sky" in captured.err and "Red" in captured.err


def _shade(share: float) -> tuple[int, int, int]:
    """The fill colour render_confusion gives a cell holding ``share`` of its truth row."""
    return int(255 - 220 * share), int(255 - 180 * share), int(255 - 60 * share)


def _cells_shaded(image: np.ndarray, share: float) -> int:
    """How many whole cells (44 x 44 px less outline and text) carry the shade of ``share``."""
    count = int((np.asarray(image)[..., :3] == _shade(share)).all(axis=2).sum())
    return round(count / 1500)


def test_confusion_png_skips_void_row():
    cm = np.array([[5, 1, 0], [2, 7, 0], [0, 0, 0]])
    image = np.asarray(render_confusion(cm, ["A", "B", "Void"], ignore_index=2))
    two = np.asarray(render_confusion(np.array([[5, 1], [2, 7]]), ["A", "B"]))
    np.testing.assert_array_equal(image, two)
    for share in (5 / 6, 1 / 6, 2 / 9, 7 / 9):  # each row's shares, one cell each
        assert _cells_shaded(image, share) == 1, share
    swapped = np.asarray(render_confusion(np.array([[1, 5], [7, 2]]), ["A", "B"]))
    assert not np.array_equal(swapped, two)


def test_cli_predict_writes_proposals(tmp_path, capsys):
    root = make_project(tmp_path / "ds", count=4, labelled=(0,), valid=(0,))
    save_constant_model(Project.open(root).models_dir, CODES, winner=1)
    before = (root / "labels" / "img00_P.png").read_bytes()
    assert main(["predict", str(root), "--json", "--batch-size", "2"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    assert events[-1]["written"] == ["img01", "img02", "img03"] and events[-1]["skipped_corrected"] == 1
    assert [e["name"] for e in events if e["event"] == "predicted"] == ["img01", "img02", "img03"]
    assert (root / "labels" / "img00_P.png").read_bytes() == before
    project = Project.open(root)
    assert project.status("img01") == "proposed" and (project.load_mask("img01") == 1).all()


def test_cli_predict_leaves_edited_work_untouched_and_counts_it(tmp_path, capsys):
    """A person's autosaved (edited) mask is neither overwritten nor tried and refused: predict counts it
    with the corrected ones it left untouched."""
    root = make_project(tmp_path / "ds", count=3, labelled=(), valid=())
    project = Project.open(root)
    save_constant_model(project.models_dir, CODES, winner=1)
    project.save_mask("img01", np.zeros((H, W), np.uint8), "edited")
    before = (root / "labels" / "img01_P.png").read_bytes()
    assert main(["predict", str(root), "--json"]) == 0
    done = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert done["written"] == ["img00", "img02"] and done["skipped_corrected"] == 1 and done["left_alone"] == []
    assert (root / "labels" / "img01_P.png").read_bytes() == before
    assert Project.open(root).status("img01") == "edited"

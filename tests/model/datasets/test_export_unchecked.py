"""Exports carry ground truth only: corrected masks by default; --include-proposals adds the unchecked ones,
marked, and `labeltool import` of such an export brings them back as proposals, never as corrections."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from test_dataset_helpers import index_mask, make_native, rgb, run_cli, save_image

from model.datasets import import_dataset
from model.datasets.export_coco import export_coco
from model.datasets.export_fastai import export_fastai
from model.datasets.unchecked import UNCHECKED_FILE, select
from model.errors import DatasetError
from model.project.project import Project
from model.project.provenance import read_provenance

FORMATS = ("fastai", "cvat-camvid", "voc", "coco")
PROPOSED = "0016E5_003"
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _with_proposal(src):
    """A native dataset: five corrected masks (no stamp: another tool) and one model proposal."""
    masks = make_native(src)
    save_image(src / "images" / f"{PROPOSED}.png", rgb(seed=9))
    masks[PROPOSED] = index_mask(seed=9)
    Project.open(src).save_mask(PROPOSED, masks[PROPOSED], "proposed", model="m1")
    return masks


def _exported_names(out, fmt) -> set[str]:
    files = [p for p in out.rglob("*.*") if p.suffix.lower() in (".png", ".jpg") and "annot" not in p.parent.name
             and p.parent.name not in ("labels", "SegmentationClass")]
    return {p.stem for p in files}


def test_anything_but_corrected_is_unchecked():
    statuses = {"a": "corrected", "b": "proposed", "c": "edited", "d": "unknown", "e": "none"}
    labelled = {"a", "b", "c", "d"}
    default = select(statuses, statuses, labelled, include_proposals=False, labelled_only=False)
    assert default.names == ["a"] and default.unchecked == []
    assert default.left_out == {"proposed": 1, "edited": 1, "unknown": 1, "none": 1}
    opted = select(statuses, statuses, labelled, include_proposals=True, labelled_only=True)
    assert opted.names == ["a", "b", "c", "d"] and opted.unchecked == ["b", "c", "d"] and opted.left_out == {"none": 1}


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_export_leaves_out_proposals_and_says_why(tmp_path, capsys, fmt):
    src = tmp_path / "src"
    masks = _with_proposal(src)
    code, out, _ = run_cli(capsys, "export", src, tmp_path / "out", "--format", fmt)
    assert code == 0 and "left out 1 images without a corrected mask (1 proposed)" in out
    assert _exported_names(tmp_path / "out", fmt) == set(masks) - {PROPOSED}
    assert not list((tmp_path / "out").rglob(UNCHECKED_FILE))


@pytest.mark.parametrize("fmt", FORMATS)
def test_included_proposals_are_marked_and_come_back_as_proposals(tmp_path, capsys, fmt):
    src = tmp_path / "src"
    masks = _with_proposal(src)
    code, out, _ = run_cli(capsys, "export", src, tmp_path / "out", "--format", fmt, "--include-proposals")
    assert code == 0 and "1 masks nobody checked are marked" in out
    assert _exported_names(tmp_path / "out", fmt) == set(masks)
    code, out, _ = run_cli(capsys, "import", tmp_path / "out", tmp_path / "back")
    assert code == 0 and "1 of the masks were never checked" in out
    back = Project.open(tmp_path / "back")
    statuses = {name: back.status(name) for name in masks}
    assert statuses == {name: "proposed" if name == PROPOSED else "corrected" for name in masks}
    assert read_provenance(back.label_path(PROPOSED)).info["model"] == "imported: out"  # the file says so
    assert np.array_equal(back.load_mask(PROPOSED), masks[PROPOSED])
    assert PROPOSED not in back.training_names()[0] + back.training_names()[1]


def test_coco_marks_the_image_entry_and_its_annotations(tmp_path):
    _with_proposal(tmp_path / "src")
    counts = export_coco(tmp_path / "src", tmp_path / "coco", include_proposals=True)
    assert counts["unchecked"] == 1 and counts["skipped"] == 0
    doc = json.loads((tmp_path / "coco" / "annotations" / "instances_train.json").read_text())
    entry = next(e for e in doc["images"] if e["file_name"].startswith(PROPOSED))
    assert entry["unchecked"] is True
    anns = [a for a in doc["annotations"] if a["image_id"] == entry["id"]]
    assert anns and all(a["attributes"] == {"unchecked": True} for a in anns)
    others = [e for e in doc["images"] if e is not entry]
    assert others and not any("unchecked" in e for e in others)


def test_cvat_marker_is_no_subset_list(tmp_path):
    _with_proposal(tmp_path / "src")
    run_out = tmp_path / "cvat"
    from model.datasets.export_cvat import export_cvat

    export_cvat(tmp_path / "src", run_out, include_proposals=True)
    assert (run_out / UNCHECKED_FILE).read_text() == f"{PROPOSED}\n"
    assert sorted(p.name for p in run_out.glob("*.txt")) == ["label_colors.txt", "train.txt", "val.txt"]


def test_native_import_keeps_proposals_proposals(tmp_path):
    _with_proposal(tmp_path / "src")
    result = import_dataset(tmp_path / "src", tmp_path / "back")
    assert result.format == "fastai" and result.counts["proposals"] == 1
    assert Project.open(tmp_path / "back").status(PROPOSED) == "proposed"


def test_nothing_checked_is_an_error_that_says_why(tmp_path):
    src = tmp_path / "src"
    make_native(src, names=("a_1",), valid=())
    (src / "labels" / "a_1_P.png").unlink()
    Project.open(src).save_mask("a_1", index_mask(), "proposed", model="m1")
    with pytest.raises(DatasetError, match=r"no image has a corrected mask \(1 proposed\).*--include-proposals"):
        export_fastai(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_mark_naming_no_image_stops_the_import(tmp_path):
    _with_proposal(tmp_path / "src")
    export_fastai(tmp_path / "src", tmp_path / "out", include_proposals=True)
    (tmp_path / "out" / UNCHECKED_FILE).write_text(f"{PROPOSED}\nnot_there\n")
    with pytest.raises(DatasetError, match=rf"{UNCHECKED_FILE}: line 2: not_there"):
        import_dataset(tmp_path / "out", tmp_path / "back")
    assert not (tmp_path / "back").exists()


def test_a_fastai_export_opened_directly_keeps_its_unchecked_masks_out_of_training(tmp_path, capsys):
    """Opened as a project without importing it (the greyscale masks carry no stamp), an export with
    --include-proposals still knows which masks nobody checked: they are unknown, never trained on, until a
    person accepts them. An unreadable marks file fails closed."""
    src = tmp_path / "src"
    masks = _with_proposal(src)
    code, _, _ = run_cli(capsys, "export", src, tmp_path / "out", "--format", "fastai", "--include-proposals")
    assert code == 0
    opened = Project.open(tmp_path / "out")
    assert opened.status(PROPOSED) == "unknown"
    assert {n: s for n, s in opened.statuses().items() if n in masks} == \
        {n: "unknown" if n == PROPOSED else "corrected" for n in masks}
    assert PROPOSED not in opened.training_names()[0] + opened.training_names()[1]
    opened.save_mask(PROPOSED, masks[PROPOSED], "corrected")  # a person checked it: now it is ground truth
    assert Project.open(tmp_path / "out").status(PROPOSED) == "corrected"
    code, out, _ = run_cli(capsys, "export", src, tmp_path / "out2", "--format", "fastai", "--include-proposals")
    (tmp_path / "out2" / UNCHECKED_FILE).write_bytes(b"\xff\xfe not utf-8")
    shutil.rmtree(tmp_path / "out2" / ".labeltool")  # its first open (the export's own record remembers)
    broken = Project.open(tmp_path / "out2")
    assert set(broken.statuses().values()) == {"unknown"}
    assert any(UNCHECKED_FILE in w for w in broken.warnings)

"""The real CamVid-11 (SegNet layout): import it, check it, export it both ways, compare every mask pixel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_dataset_helpers import read_indices, run_cli, snapshot

from model.datasets.import_segnet import SEGNET_COLOURS
from model.project.codes import CAMVID11_CODES

pytestmark = pytest.mark.camvid


def _source_masks(camvid, subset):
    return {p.stem: p for p in sorted((camvid / f"{subset}annot").glob("*.png"))}


def test_full_camvid_import_is_pixel_identical_and_checks_clean(camvid11, tmp_path, capsys):
    before = snapshot(camvid11)
    code, out, _ = run_cli(capsys, "import", camvid11, tmp_path / "cv")
    assert code == 0, out
    assert "segnet layout" in out and "imported 468 images (468 with masks; train 367, valid 101" in out
    assert snapshot(camvid11) == before  # the source is only read
    cv = tmp_path / "cv"
    assert (cv / "codes.txt").read_text().splitlines() == CAMVID11_CODES
    valid = (cv / "valid.txt").read_text().split()
    assert sorted(valid) == sorted(p.name for p in (camvid11 / "val").glob("*.png"))
    for subset in ("train", "val"):
        for name, source in _source_masks(camvid11, subset).items():
            with Image.open(source) as original:
                expected = np.asarray(original)
            assert np.array_equal(read_indices(cv / "labels" / f"{name}_P.png"), expected), name
            assert (cv / "images" / f"{name}.png").read_bytes() == (camvid11 / subset / f"{name}.png").read_bytes()
    code, out, _ = run_cli(capsys, "check", cv)
    assert code == 0 and "no problems" in out
    rows = {line.split()[1]: line.split() for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()}
    assert set(rows) == set(CAMVID11_CODES)
    assert float(rows["Road"][3].rstrip("%")) > 20.0  # road is the commonest class in CamVid
    assert [line.split() for line in out.splitlines() if line.startswith(("train ", "valid "))] == [
        ["train", "367", "367"], ["valid", "101", "101"]]
    code, out, err = run_cli(capsys, "split", cv, "--valid", "0.2", "--dry-run")
    assert code == 0 and "0016E5" in out and "too few to measure" in err  # CamVid here has 3 sequences


def test_camvid_subset_exports_both_ways_and_round_trips(camvid11, tmp_path, capsys):
    assert run_cli(capsys, "import", camvid11, tmp_path / "cv", "--limit", "12")[0] == 0
    names = {p.stem for p in (tmp_path / "cv" / "images").iterdir()}
    assert len(names) == 24
    sources = {**_source_masks(camvid11, "train"), **_source_masks(camvid11, "val")}
    for fmt in ("fastai", "cvat-camvid"):
        assert run_cli(capsys, "export", tmp_path / "cv", tmp_path / fmt, "--format", fmt)[0] == 0
        assert run_cli(capsys, "import", tmp_path / fmt, tmp_path / f"{fmt}-back")[0] == 0
        for name in names:
            with Image.open(sources[name]) as original:
                expected = np.asarray(original)
            assert np.array_equal(read_indices(tmp_path / f"{fmt}-back" / "labels" / f"{name}_P.png"), expected)
        assert (tmp_path / f"{fmt}-back" / "valid.txt").read_text() == (tmp_path / "cv" / "valid.txt").read_text()
    # the CVAT masks are painted with the SegNet colours, one colour per class
    name = sorted(names)[0]
    subset = "val" if name in (tmp_path / "cv" / "valid.txt").read_text() else "train"
    with Image.open(tmp_path / "cvat-camvid" / f"{subset}annot" / f"{name}.png") as painted:
        colours = np.asarray(painted.convert("RGB"))
    with Image.open(sources[name]) as original:
        assert np.array_equal(colours, SEGNET_COLOURS[np.asarray(original)])

"""Exports: the fastai layout fastai trains on, CVAT CamVid 1.0 as datumaro reads it, and round trips."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_dataset_helpers import CODES, COLOURS, make_native, read_indices, rgb, run_cli, save_image, snapshot

from model.datasets.export_cvat import export_cvat
from model.datasets.export_fastai import export_fastai
from model.errors import DatasetError
from model.project.project import Project


def _same_masks(a, b, names):
    for name in names:
        assert np.array_equal(read_indices(a / "labels" / f"{name}_P.png"), read_indices(b / "labels" / f"{name}_P.png")), name


def test_fastai_export_has_the_layout_fastai_expects(tmp_path, capsys):
    src = tmp_path / "src"
    masks = make_native(src, suffix=".jpg")
    (src / "test.txt").write_text("Seq05VD_f001.jpg\n")
    before = snapshot(src)
    code, out, _ = run_cli(capsys, "export", src, tmp_path / "fa", "--format", "fastai")
    assert code == 0 and "valid 2" in out and "test 1" in out
    assert snapshot(src) == before  # exporting reads the source only
    fa = tmp_path / "fa"
    codes = (fa / "codes.txt").read_text().splitlines()
    assert codes == CODES
    images = sorted(p.name for p in (fa / "images").iterdir())
    assert images == ["0001TP_001.jpg", "0001TP_002.jpg", "0016E5_001.jpg", "0016E5_002.jpg"]
    assert sorted(p.name for p in (fa / "test").iterdir()) == ["Seq05VD_f001.jpg"]  # test never trains
    # FileSplitter: `x.name in Path('valid.txt').read_text().split('\n')`
    valid = (fa / "valid.txt").read_text().split("\n")
    assert [name for name in images if name in valid] == ["0001TP_001.jpg", "0001TP_002.jpg"]
    for image in images + ["Seq05VD_f001.jpg"]:
        stem = image.rsplit(".", 1)[0]
        label = fa / "labels" / f"{stem}_P.png"  # the get_y snippet in docs/datasets.md (not _P.jpg)
        with Image.open(label) as mask:
            assert mask.mode in ("L", "P")  # one channel: fastai's MaskBlock reads pixel values as classes
            values = np.asarray(mask)
        assert values.max() < len(codes)
        assert np.array_equal(values, masks[stem])


def test_fastai_datablock_trains_on_the_export(tmp_path):
    vision = pytest.importorskip("fastai.vision.all", reason="fastai is not installed here")
    src = tmp_path / "src"
    make_native(src, suffix=".jpg")
    export_fastai(src, tmp_path / "fa")
    path = tmp_path / "fa"
    codes = (path / "codes.txt").read_text().splitlines()
    block = vision.DataBlock(blocks=(vision.ImageBlock, vision.MaskBlock(codes)), get_items=vision.get_image_files,
                             splitter=vision.FileSplitter(path / "valid.txt"),
                             get_y=lambda o: path / "labels" / f"{o.stem}_P.png")
    dls = block.dataloaders(path / "images", bs=2, num_workers=0, device="cpu")
    assert len(dls.valid_ds) == 2 and len(dls.train_ds) == 3
    _, y = dls.one_batch()
    assert int(y.max()) < len(codes)
    import torch

    learn = vision.Learner(dls, torch.nn.Conv2d(3, len(codes), 1), loss_func=vision.CrossEntropyLossFlat(axis=1))
    learn.fit(1)
    assert np.isfinite(learn.recorder.values[-1][0])


def _datumaro_read(root):
    """Read a CVAT CamVid export the way datumaro's camvid extractor does."""
    colour_map = {}
    for line in (root / "label_colors.txt").read_text().splitlines():
        fields = line.strip().split()
        colour_map[tuple(int(c) for c in fields[:-1])] = fields[3]
    items = {}
    for list_file in root.glob("*.txt"):
        if list_file.name == "label_colors.txt":
            continue
        for line in list_file.read_text().splitlines():
            objects = line.split()
            image = root / objects[0][1:]
            item_id = "/".join(objects[0].split("/")[2:])[: -len(".png")]
            colours = np.asarray(Image.open(root / objects[1][1:]).convert("RGB"))
            names = np.vectorize(lambda k: colour_map[(k >> 16, (k >> 8) & 255, k & 255)])(
                (colours[..., 0].astype(int) << 16) | (colours[..., 1].astype(int) << 8) | colours[..., 2])
            items[item_id] = (list_file.stem, image, names)
    return items


def test_cvat_export_reads_back_as_datumaro_reads_it(tmp_path):
    src = tmp_path / "src"
    masks = make_native(src)
    counts = export_cvat(src, tmp_path / "cvat")
    assert counts["train"] == 3 and counts["valid"] == 2
    cvat = tmp_path / "cvat"
    assert (cvat / "label_colors.txt").read_text().splitlines()[1] == "128 64 128 Road"
    assert (cvat / "val.txt").read_text().splitlines()[0] == "/val/0001TP_001.png /valannot/0001TP_001.png"
    items = _datumaro_read(cvat)
    assert sorted(items) == sorted(masks)
    for name, (subset, image, names) in items.items():
        assert subset == ("val" if name.startswith("0001TP") else "train")
        assert image.is_file()
        assert np.array_equal(names, np.asarray(CODES)[masks[name]])


def test_cvat_export_without_a_split_uses_default_subset(tmp_path):
    make_native(tmp_path / "src", valid=())
    export_cvat(tmp_path / "src", tmp_path / "cvat")
    assert sorted(p.name for p in (tmp_path / "cvat").iterdir()) == ["default", "default.txt", "defaultannot",
                                                                      "label_colors.txt"]


def test_cvat_export_refuses_classes_sharing_a_colour(tmp_path):
    make_native(tmp_path / "src")
    Project.open(tmp_path / "src").set_palette(np.array([(1, 1, 1)] * 4, dtype=np.uint8))
    with pytest.raises(DatasetError, match="share the colour"):
        export_cvat(tmp_path / "src", tmp_path / "cvat")
    assert not (tmp_path / "cvat").exists()


@pytest.mark.parametrize("fmt", ["fastai", "cvat-camvid"])
def test_round_trip_is_pixel_identical(tmp_path, capsys, fmt):
    src = tmp_path / "src"
    masks = make_native(src, suffix=".jpg")
    (src / "test.txt").write_text("Seq05VD_f001.jpg\n")
    assert run_cli(capsys, "export", src, tmp_path / "out", "--format", fmt)[0] == 0
    code, out, _ = run_cli(capsys, "import", tmp_path / "out", tmp_path / "back")
    assert code == 0 and f"{fmt} layout" in out
    back = tmp_path / "back"
    _same_masks(src, back, masks)
    for name in masks:
        assert (back / "images" / f"{name}.jpg").read_bytes() == (src / "images" / f"{name}.jpg").read_bytes()
    assert (back / "codes.txt").read_text() == (src / "codes.txt").read_text()
    assert (back / "valid.txt").read_text() == (src / "valid.txt").read_text()
    assert (back / "test.txt").read_text() == "Seq05VD_f001.jpg\n"
    assert np.array_equal(Project.open(back).palette, COLOURS)


def test_only_corrected_is_the_default_and_still_accepted(tmp_path, capsys):
    src = tmp_path / "src"
    make_native(src)
    save_image(src / "images" / "0016E5_003.png", rgb(seed=9))
    project = Project.open(src)  # masks already there count as corrected
    project.save_mask("0016E5_003", np.zeros((8, 12), np.uint8), status="proposed")
    code, out, _ = run_cli(capsys, "export", src, tmp_path / "all", "--format", "fastai")
    assert code == 0 and not (tmp_path / "all" / "images" / "0016E5_003.png").exists()
    code, out, _ = run_cli(capsys, "export", src, tmp_path / "corr", "--format", "cvat-camvid", "--only-corrected")
    assert code == 0 and "left out 1 images" in out
    assert "0016E5_003" not in (tmp_path / "corr" / "train.txt").read_text()
    code, _, err = run_cli(capsys, "export", src, tmp_path / "x", "--format", "voc", "--only-corrected",
                           "--include-proposals")
    assert code == 2 and "contradict" in err


def test_export_of_a_broken_dataset_stops_naming_the_file(tmp_path, capsys):
    src = tmp_path / "src"
    make_native(src)
    (src / "valid.txt").write_text("missing.png\n")
    code, _, err = run_cli(capsys, "export", src, tmp_path / "out", "--format", "fastai")
    assert code == 2 and "valid.txt: line 1: missing.png" in err
    assert not (tmp_path / "out").exists()

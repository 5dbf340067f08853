"""Pascal VOC and COCO both ways: the exports are read back pixel-exact by the readers people use
(torchvision's VOCSegmentation, pycocotools), imports detect both, and round trips give back every pixel."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from test_dataset_helpers import CODES, COLOURS, make_native, read_indices, rgb, run_cli, save_image, snapshot

from model.datasets import detect_format, import_dataset
from model.datasets.check import check_dataset
from model.datasets.export_coco import export_coco
from model.datasets.export_voc import export_voc
from model.datasets.split import split_dataset
from model.errors import DatasetError, MaskError
from model.images.imageio import write_mask
from model.project.codes import write_codes
from model.project.project import Project

NAMES = ("0016E5_001", "0016E5_002", "0001TP_001", "0001TP_002", "Seq05VD_f001")
VOC = ("VOCdevkit", "VOC2012")
# pycocotools 2.0.x decodes through numpy's old __array__ protocol (its warning, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def voc_values(mask: np.ndarray) -> np.ndarray:
    """CODES = Sky, Road, Car, Void: the non-Void classes keep 0..2, Void (3) is VOC's 255."""
    return np.where(mask == 3, 255, mask).astype(np.uint8)


@pytest.mark.parametrize("image_set,names", [("train", NAMES[:2] + NAMES[4:]), ("val", NAMES[2:4])])
def test_torchvision_reads_the_voc_export_pixel_exact(tmp_path, image_set, names):
    from torchvision.datasets import VOCSegmentation

    src = tmp_path / "src"
    masks = make_native(src, suffix=".jpg")
    counts = export_voc(src, tmp_path / "voc")
    assert (counts["train"], counts["valid"], counts["converted"]) == (3, 2, 0)
    data = VOCSegmentation(root=str(tmp_path / "voc"), year="2012", image_set=image_set)
    assert len(data) == len(names)
    for index, name in enumerate(names):
        image, target = data[index]
        assert np.array_equal(np.asarray(target), voc_values(masks[name]))
        assert target.mode == "P" and target.getpalette()[3:6] == list(COLOURS[1])  # Road's colour for value 1
        assert image.size == (12, 8)
        root = tmp_path.joinpath("voc", *VOC)
        assert (root / "JPEGImages" / f"{name}.jpg").read_bytes() == (src / "images" / f"{name}.jpg").read_bytes()


def test_voc_export_of_png_images_is_jpeg_unless_lossless(tmp_path, capsys):
    from torchvision.datasets import VOCSegmentation

    src = tmp_path / "src"
    masks = make_native(src)
    code, out, _ = run_cli(capsys, "export", src, tmp_path / "voc", "--format", "voc")
    assert code == 0 and "5 images were saved as JPEG" in out
    data = VOCSegmentation(root=str(tmp_path / "voc"), year="2012", image_set="trainval")
    image, target = data[0]
    assert np.array_equal(np.asarray(target), voc_values(masks[NAMES[0]]))
    assert np.abs(np.asarray(image).astype(int) - rgb(seed=0).astype(int)).mean() < 40  # random noise is JPEG's worst
    code, out, err = run_cli(capsys, "export", src, tmp_path / "lossless", "--format", "voc", "--lossless")
    root = tmp_path.joinpath("lossless", *VOC)
    assert (root / "JPEGImages" / f"{NAMES[0]}.png").read_bytes() == (src / "images" / f"{NAMES[0]}.png").read_bytes()
    assert "VOCSegmentation opens" in err


def _coco_masks(path, codes):
    """Rebuild each image's class mask from the JSON the way a COCO user does (pycocotools)."""
    from pycocotools.coco import COCO

    coco = COCO(str(path))
    rebuilt = {}
    for image_id, info in coco.imgs.items():
        mask = np.full((info["height"], info["width"]), codes.index("Void"), dtype=np.uint8)
        covered = np.zeros_like(mask, dtype=bool)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])):
            region = coco.annToMask(ann).astype(bool)
            rows, cols = np.flatnonzero(region.any(1)), np.flatnonzero(region.any(0))
            assert ann["area"] == region.sum() > 0
            assert ann["bbox"] == [cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1]
            assert not (region & covered).any()  # annotations never overlap
            covered |= region
            mask[region] = ann["category_id"] - 1
        rebuilt[info["file_name"].rsplit(".", 1)[0]] = (mask, coco.loadAnns(coco.getAnnIds(imgIds=[image_id])))
    return coco, rebuilt


def test_pycocotools_decodes_the_coco_export_pixel_exact(tmp_path, capsys):
    src = tmp_path / "src"
    masks = make_native(src)
    code, out, _ = run_cli(capsys, "export", src, tmp_path / "coco", "--format", "coco", "--instances", "Car",
                           "--crowd", "Sky")
    assert code == 0
    coco_dir = tmp_path / "coco"
    assert sorted(p.name for p in (coco_dir / "annotations").iterdir()) == ["instances_train.json", "instances_val.json"]
    from labeltool.editing.instances import count_objects

    for split, names in (("train", NAMES[:2] + NAMES[4:]), ("val", NAMES[2:4])):
        coco, rebuilt = _coco_masks(coco_dir / "annotations" / f"instances_{split}.json", CODES)
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == CODES
        assert coco.loadCats([3])[0]["isthing"] == 1 and coco.loadCats([3])[0]["color"] == list(COLOURS[2])
        assert sorted(rebuilt) == sorted(names)
        for name in names:
            mask, anns = rebuilt[name]
            assert np.array_equal(mask, masks[name]), name
            cars = [a for a in anns if a["category_id"] == 3]
            assert len(cars) == count_objects(masks[name])[2]  # one annotation per car object
            assert all(a["iscrowd"] == (1 if a["category_id"] == 1 else 0) for a in anns)
            assert len([a for a in anns if a["category_id"] == 2]) == 1  # Road: one semantic mask
            assert (coco_dir / "images" / split / f"{name}.png").read_bytes() == \
                (src / "images" / f"{name}.png").read_bytes()


@pytest.mark.parametrize("fmt", ["voc", "coco"])
def test_round_trip_is_pixel_exact_and_check_and_split_work(tmp_path, capsys, fmt):
    src = tmp_path / "src"
    masks = make_native(src, suffix=".jpg")
    (src / "test.txt").write_text("Seq05VD_f001.jpg\n")
    before = snapshot(src)
    extra = ["--instances", "all"] if fmt == "coco" else []
    assert run_cli(capsys, "export", src, tmp_path / "out", "--format", fmt, *extra)[0] == 0
    assert snapshot(src) == before
    assert detect_format(tmp_path / "out")[0] == fmt
    code, out, _ = run_cli(capsys, "import", tmp_path / "out", tmp_path / "back")
    assert code == 0 and f"{fmt} layout" in out
    back = tmp_path / "back"
    for name, mask in masks.items():
        assert np.array_equal(read_indices(back / "labels" / f"{name}_P.png"), mask), name
        assert (back / "images" / f"{name}.jpg").read_bytes() == (src / "images" / f"{name}.jpg").read_bytes()
    assert (back / "codes.txt").read_text() == (src / "codes.txt").read_text()
    assert (back / "valid.txt").read_text() == (src / "valid.txt").read_text()
    assert (back / "test.txt").read_text() == "Seq05VD_f001.jpg\n"
    assert np.array_equal(Project.open(back).palette, COLOURS)
    report = check_dataset(back)
    assert report.ok, report.problems
    plan = split_dataset(back, 0.5, force=True)
    assert plan.valid and plan.train


def test_voc_round_trip_with_void_first_and_no_void(tmp_path):
    codes = ["Void", "Sky", "Road"]
    src = tmp_path / "src"
    masks = make_native(src, codes=codes, suffix=".jpg")
    export_voc(src, tmp_path / "voc")
    first = read_indices(tmp_path.joinpath("voc", *VOC, "SegmentationClass", f"{NAMES[0]}.png"))
    assert np.array_equal(first, np.where(masks[NAMES[0]] == 0, 255, masks[NAMES[0]] - 1))
    import_dataset(tmp_path / "voc", tmp_path / "back")
    assert (tmp_path / "back" / "codes.txt").read_text().splitlines() == codes
    assert np.array_equal(read_indices(tmp_path / "back" / "labels" / f"{NAMES[0]}_P.png"), masks[NAMES[0]])

def test_classes_without_void_round_trip_through_voc_and_coco(tmp_path):
    plain = tmp_path / "plain"
    masks = make_native(plain, codes=["Sky", "Road", "Car"])
    export_voc(plain, tmp_path / "voc")
    assert np.array_equal(read_indices(tmp_path.joinpath("voc", *VOC, "SegmentationClass", f"{NAMES[1]}.png")),
                          masks[NAMES[1]])
    export_coco(plain, tmp_path / "coco")
    for fmt in ("voc", "coco"):
        import_dataset(tmp_path / fmt, tmp_path / f"{fmt}-back")
        assert (tmp_path / f"{fmt}-back" / "codes.txt").read_text().splitlines() == ["Sky", "Road", "Car"], fmt
        assert np.array_equal(read_indices(tmp_path / f"{fmt}-back" / "labels" / f"{NAMES[1]}_P.png"), masks[NAMES[1]])


def test_a_plain_voc_tree_imports_with_voc_classes(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2007"
    mask = np.zeros((8, 12), np.uint8)
    mask[2:5, 3:7] = 15  # person
    mask[2, 3:7] = 255  # void boundary
    for name in ("000001", "000002"):
        save_image(root / "JPEGImages" / f"{name}.jpg", rgb())
        write_mask(root / "SegmentationClass" / f"{name}.png", mask)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("000001\n")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("000002\n")
    result = import_dataset(tmp_path, tmp_path / "back")
    assert result.format == "voc" and result.classes == 22
    codes = (tmp_path / "back" / "codes.txt").read_text().splitlines()
    assert codes[15] == "person" and codes[-1] == "Void"
    back = read_indices(tmp_path / "back" / "labels" / "000001_P.png")
    assert (back[3:5, 3:7] == 15).all() and (back[2, 3:7] == 21).all() and back[0, 0] == 0
    assert (tmp_path / "back" / "valid.txt").read_text() == "000002.jpg\n"


def test_a_bad_voc_mask_value_names_the_file_and_leaves_no_destination(tmp_path):
    src = tmp_path / "src"
    make_native(src, suffix=".jpg")
    export_voc(src, tmp_path / "voc")
    bad = tmp_path.joinpath("voc", *VOC, "SegmentationClass", f"{NAMES[3]}.png")
    values = read_indices(bad)
    values[1, 1] = 7
    write_mask(bad, values)
    with pytest.raises(MaskError, match=f"{NAMES[3]}.png.*pixel value 7"):
        import_dataset(tmp_path / "voc", tmp_path / "back")
    assert not (tmp_path / "back").exists()


def test_foreign_coco_with_polygons_and_gapped_ids(tmp_path):
    save_image(tmp_path / "images" / "train2017" / "a.jpg", rgb(width=20, height=10))
    save_image(tmp_path / "images" / "train2017" / "b.jpg", rgb(width=20, height=10, seed=1))
    doc = {"images": [{"id": 7, "file_name": "a.jpg", "width": 20, "height": 10},
                      {"id": 8, "file_name": "b.jpg", "width": 20, "height": 10}],
           "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
           "annotations": [{"id": 1, "image_id": 7, "category_id": 18, "iscrowd": 0,
                            "segmentation": [[2, 2, 8, 2, 8, 6, 2, 6]], "bbox": [2, 2, 6, 4], "area": 24}]}
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_train2017.json").write_text(json.dumps(doc))
    result = import_dataset(tmp_path, tmp_path / "back")
    assert result.format == "coco" and result.counts["labelled"] == 1  # b.jpg has no annotation: no mask
    assert (tmp_path / "back" / "codes.txt").read_text().splitlines() == ["person", "dog", "Void"]
    mask = read_indices(tmp_path / "back" / "labels" / "a_P.png")
    assert mask[4, 5] == 1 and mask[0, 0] == 2 and mask[8, 15] == 2
    doc["annotations"][0]["category_id"] = 3
    (tmp_path / "annotations" / "instances_train2017.json").write_text(json.dumps(doc))
    with pytest.raises(MaskError, match="instances_train2017.json.*category 3"):
        import_dataset(tmp_path, tmp_path / "back2")


def test_export_refuses_unknown_instance_class(tmp_path):
    make_native(tmp_path / "src")
    with pytest.raises(DatasetError, match="no class named 'Bus'"):
        export_coco(tmp_path / "src", tmp_path / "coco", instances=["Bus"])
    assert not (tmp_path / "coco").exists()


def test_255_classes_survive_voc_and_coco(tmp_path):
    codes = [f"c{i}" for i in range(255)] + ["Void"]
    src = tmp_path / "src"
    write_codes(src / "codes.txt", codes)
    mask = np.arange(256, dtype=np.uint8).reshape(16, 16)
    save_image(src / "images" / "a.png", rgb(16, 16))
    write_mask(src / "labels" / "a_P.png", mask)
    Image.open(src / "images" / "a.png").close()
    for fmt, export in (("voc", export_voc), ("coco", export_coco)):
        export(src, tmp_path / fmt)
        import_dataset(tmp_path / fmt, tmp_path / f"{fmt}-back")
        assert np.array_equal(read_indices(tmp_path / f"{fmt}-back" / "labels" / "a_P.png"), mask), fmt


@pytest.mark.camvid
def test_real_camvid_through_voc_and_coco_is_pixel_exact(camvid11, tmp_path):
    native = tmp_path / "native"
    import_dataset(camvid11, native, limit=4)
    export_voc(native, tmp_path / "voc")
    export_coco(native, tmp_path / "coco", instances=["Car", "Pedestrian"])
    for fmt in ("voc", "coco"):
        back = tmp_path / f"{fmt}-back"
        import_dataset(tmp_path / fmt, back)
        assert (back / "codes.txt").read_text() == (native / "codes.txt").read_text()
        for mask in (native / "labels").iterdir():
            assert np.array_equal(read_indices(back / "labels" / mask.name), read_indices(mask)), (fmt, mask.name)

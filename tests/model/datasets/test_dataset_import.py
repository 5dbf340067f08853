"""Importing each layout into the native one: detection, classes, splits, every mask pixel, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_dataset_helpers import (
    CODES,
    COLOURS,
    make_cvat,
    make_native,
    make_segnet,
    read_indices,
    rgb,
    run_cli,
    save_image,
    save_l_mask,
    snapshot,
)

from model.datasets import detect_format, import_dataset
from model.errors import DatasetError, MaskError
from model.project.codes import CAMVID11_CODES, read_codes


def test_segnet_import_keeps_every_pixel_and_maps_val_and_test(tmp_path, capsys):
    masks = make_segnet(tmp_path / "src")
    code, out, _ = run_cli(capsys, "import", tmp_path / "src", tmp_path / "dst")
    assert code == 0
    assert "segnet layout" in out
    dst = tmp_path / "dst"
    assert read_codes(dst / "codes.txt") == CAMVID11_CODES
    assert (dst / "valid.txt").read_text() == "0001TP_val000.png\n0001TP_val001.png\n"
    assert (dst / "test.txt").read_text() == "0001TP_test000.png\n0001TP_test001.png\n"
    for name, mask in masks.items():
        assert (dst / "images" / f"{name}.png").read_bytes() == (tmp_path / "src" / name.split("_")[1].rstrip(
            "0123456789") / f"{name}.png").read_bytes()
        with Image.open(dst / "labels" / f"{name}_P.png") as written:
            assert written.mode == "P"  # indexed, with the class palette
            assert np.array_equal(np.asarray(written), mask)
            assert tuple(written.getpalette()[4 * 3:4 * 3 + 3]) == (60, 40, 222)  # SegNet's Sidewalk colour


def test_segnet_list_paths_are_reduced_to_file_names(tmp_path):
    src = tmp_path / "src"
    make_segnet(src, counts=(("train", 2),))
    (tmp_path / "outside.png").write_bytes((src / "train" / "0016E5_train000.png").read_bytes())
    (src / "train.txt").write_text("/x/../../outside.png /x/trainannot/0016E5_train000.png\n")
    with pytest.raises(DatasetError, match=r"train\.txt: line 1: train/outside\.png does not exist"):
        import_dataset(src, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_segnet_without_lists_scans_folders(tmp_path):
    make_segnet(tmp_path / "src", lists=False)
    result = import_dataset(tmp_path / "src", tmp_path / "dst", limit=1)
    assert result.counts == {"train": 1, "valid": 1, "test": 1, "labelled": 3, "proposals": 0}


def test_cvat_camvid_import_maps_colours_to_indices(tmp_path):
    masks = make_cvat(tmp_path / "src")
    fmt, reason = detect_format(tmp_path / "src")
    assert fmt == "cvat-camvid" and "label_colors.txt" in reason
    import_dataset(tmp_path / "src", tmp_path / "dst")
    assert read_codes(tmp_path / "dst" / "codes.txt") == CODES
    assert (tmp_path / "dst" / "valid.txt").read_text() == "val_0.png\n"
    for name, mask in masks.items():
        assert np.array_equal(read_indices(tmp_path / "dst" / "labels" / f"{name}_P.png"), mask)


def test_cvat_list_entry_leading_out_of_the_dataset_is_refused(tmp_path):
    src = tmp_path / "src"
    make_cvat(src)
    save_image(tmp_path / "secret.png", rgb())
    (src / "train.txt").write_text("/train/train_0.png /trainannot/train_0.png\n/../secret.png\n")
    with pytest.raises(DatasetError, match=r"train\.txt: line 2: .*leads out of the dataset"):
        import_dataset(src, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def _colour_table_source(tmp_path, stray=None):
    src = tmp_path / "src"
    (src / "train").mkdir(parents=True)
    (src / "class_dict.csv").write_text("name,r,g,b\r\n" + "".join(
        f"{n},{r},{g},{b}\r\n" for n, (r, g, b) in zip(CODES, COLOURS, strict=True)))
    mask = np.array([[0, 1, 2], [3, 2, 1]], dtype=np.uint8)
    colour = COLOURS[mask]
    if stray is not None:
        colour[1, 2] = stray
    save_image(src / "train" / "0006R0_01.png", rgb(3, 2))
    save_image(src / "train_labels" / "0006R0_01_L.png", colour)
    return src, mask


def test_colour_table_import_with_class_dict(tmp_path):
    src, mask = _colour_table_source(tmp_path)
    assert detect_format(src)[0] == "colour-table"
    import_dataset(src, tmp_path / "dst")
    assert read_codes(tmp_path / "dst" / "codes.txt") == CODES
    assert np.array_equal(read_indices(tmp_path / "dst" / "labels" / "0006R0_01_P.png"), mask)


def test_unknown_colour_is_reported_with_count_and_place_and_dst_untouched(tmp_path, capsys):
    src, _ = _colour_table_source(tmp_path, stray=(1, 2, 3))
    (tmp_path / "dst").mkdir()
    code, _, err = run_cli(capsys, "import", src, tmp_path / "dst")
    assert code == 2
    assert "0006R0_01_L.png" in err and "(1, 2, 3)" in err and "1 pixels" in err and "x=2, y=1" in err
    assert "--unknown-as-void" in err
    assert list((tmp_path / "dst").iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # staging folder removed


def test_unknown_colour_maps_to_void_only_when_asked(tmp_path, capsys):
    src, mask = _colour_table_source(tmp_path, stray=(1, 2, 3))
    code, _, err = run_cli(capsys, "import", src, tmp_path / "dst", "--unknown-as-void")
    assert code == 0
    assert "1 pixels of colours not in the table" in err
    expected = mask.copy()
    expected[1, 2] = CODES.index("Void")
    assert np.array_equal(read_indices(tmp_path / "dst" / "labels" / "0006R0_01_P.png"), expected)


def test_fastai_import_normalises_codes_and_reads_l_and_p_masks(tmp_path):
    src = tmp_path / "src"
    masks = make_native(src, suffix=".jpg")
    (src / "codes.txt").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(f"{c}  " for c in CODES).encode() + b"\r\n\r\n")
    save_l_mask(src / "labels" / "0016E5_001_P.png", masks["0016E5_001"])  # an L-mode mask is fine too
    import_dataset(src, tmp_path / "dst")
    dst = tmp_path / "dst"
    assert (dst / "codes.txt").read_text() == "".join(f"{c}\n" for c in CODES)
    assert (dst / "images" / "0016E5_001.jpg").read_bytes() == (src / "images" / "0016E5_001.jpg").read_bytes()
    for name, mask in masks.items():
        assert np.array_equal(read_indices(dst / "labels" / f"{name}_P.png"), mask)


def test_rgb_mask_is_an_error_unless_a_colour_table_is_given(tmp_path):
    src = tmp_path / "src"
    masks = make_native(src)
    save_image(src / "labels" / "0016E5_001_P.png", COLOURS[masks["0016E5_001"]])
    with pytest.raises(MaskError, match=r"0016E5_001_P\.png: mask is a colour"):
        import_dataset(src, tmp_path / "dst")
    table = tmp_path / "label_colors.txt"
    table.write_text("".join(f"{r} {g} {b} {n}\n" for (r, g, b), n in zip(COLOURS, CODES, strict=True)))
    import_dataset(src, tmp_path / "dst", class_file=table)
    assert np.array_equal(read_indices(tmp_path / "dst" / "labels" / "0016E5_001_P.png"), masks["0016E5_001"])


def test_mask_of_wrong_size_names_the_file_and_leaves_existing_dst_as_it_was(tmp_path):
    src = tmp_path / "src"
    make_native(src)
    save_l_mask(src / "labels" / "0001TP_002_P.png", np.zeros((3, 3), np.uint8))
    dst = tmp_path / "dst"
    make_native(dst, names=("old",), valid=())
    before = snapshot(dst)
    with pytest.raises(MaskError, match=r"0001TP_002_P\.png: mask is 3x3 but its image is 12x8"):
        import_dataset(src, dst, force=True)
    assert snapshot(dst) == before


def test_existing_dst_needs_force_and_force_replaces_it(tmp_path, capsys):
    make_native(tmp_path / "src")
    make_native(tmp_path / "dst", names=("old",), valid=())
    code, _, err = run_cli(capsys, "import", tmp_path / "src", tmp_path / "dst")
    assert code == 2 and "already exists" in err and "--force" in err
    assert (tmp_path / "dst" / "images" / "old.png").exists()
    assert run_cli(capsys, "import", tmp_path / "src", tmp_path / "dst", "--force")[0] == 0
    assert not (tmp_path / "dst" / "images" / "old.png").exists()
    assert (tmp_path / "dst" / "images" / "0016E5_001.png").exists()


def test_dst_that_holds_the_source_is_refused(tmp_path):
    make_native(tmp_path / "data" / "src")
    with pytest.raises(DatasetError, match="holds the source"):
        import_dataset(tmp_path / "data" / "src", tmp_path / "data", force=True)
    assert (tmp_path / "data" / "src" / "codes.txt").exists()


def test_truncated_image_names_the_file(tmp_path):
    src = tmp_path / "src"
    make_native(src)
    path = src / "images" / "0016E5_002.png"
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DatasetError, match=r"0016E5_002\.png"):
        import_dataset(src, tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_huge_image_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    src = tmp_path / "src"
    make_native(src)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)  # 12x8 = 96 pixels is "huge" now
    with pytest.raises(DatasetError, match=r"0001TP_001\.png: image too large to open safely"):
        import_dataset(src, tmp_path / "dst")


def test_layout_that_fits_nothing_asks_for_format(tmp_path, capsys):
    save_image(tmp_path / "src" / "a.png", rgb())
    code, _, err = run_cli(capsys, "import", tmp_path / "src", tmp_path / "dst")
    assert code == 2 and "cannot tell the dataset layout" in err and "--format" in err

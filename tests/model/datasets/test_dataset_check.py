"""labeltool check: every problem with its file, nothing modified, the class table and split sizes."""

from __future__ import annotations

import numpy as np
from test_dataset_helpers import COLOURS, make_native, run_cli, save_image, save_l_mask, snapshot

from model.images.imageio import write_mask


def test_clean_dataset_exits_0_with_class_table(tmp_path, capsys):
    masks = make_native(tmp_path / "ds")
    code, out, _ = run_cli(capsys, "check", tmp_path / "ds")
    assert code == 0 and "no problems" in out
    road = sum(int((m == 1).sum()) for m in masks.values())
    assert any(line.split()[:3] == ["1", "Road", f"{road:,}"] for line in out.splitlines())
    assert any(line.split() == ["valid", "2", "2"] for line in out.splitlines())
    assert any(line.split() == ["train", "3", "3"] for line in out.splitlines())


def test_every_problem_is_listed_with_its_file_and_nothing_changes(tmp_path, capsys):
    ds = tmp_path / "ds"
    make_native(ds)
    truncated = ds / "images" / "0016E5_002.png"
    truncated.write_bytes(truncated.read_bytes()[:70])
    save_l_mask(ds / "labels" / "0001TP_001_P.png", np.zeros((5, 5), np.uint8))  # wrong size
    bad = np.zeros((8, 12), np.uint8)
    bad[3, 7] = 9
    write_mask(ds / "labels" / "0001TP_002_P.png", bad, COLOURS)  # class 9 of 4
    write_mask(ds / "labels" / "orphan_P.png", bad, COLOURS)  # no image
    save_image(ds / "images" / "0016E5_001.jpg", np.zeros((8, 12, 3), np.uint8))  # a.png and a.jpg
    (ds / "valid.txt").write_text("0001TP_001.png\ngone.png\n../x.png\n")
    save_image(ds / "labels" / "0016E5_001_P.jpg", np.zeros((8, 12, 3), np.uint8))  # a JPEG mask
    before = snapshot(ds)
    code, out, _ = run_cli(capsys, "check", ds)
    assert code == 1
    problems = out[out.index("problem(s):"):]
    for expected in ("0016E5_002.png: cannot decode image",
                     "0001TP_001_P.png: mask is 5x5 but its image is 12x8",
                     "0001TP_002_P.png: class index 9 is not in codes.txt",
                     "orphan_P.png: mask with no image",
                     "0016E5_001.png: same image name as 0016E5_001.jpg",
                     "valid.txt: line 2: gone.png is not an image",
                     "valid.txt: line 3: '../x.png' leads out of the dataset",
                     "0016E5_001_P.jpg: not a mask name"):
        assert expected in problems, expected
    assert "7 problem(s)" not in out and "8 problem(s)" in out
    assert snapshot(ds) == before  # not even a .labeltool state file appears


def test_codes_file_problems_name_the_line(tmp_path, capsys):
    ds = tmp_path / "ds"
    make_native(ds)
    (ds / "codes.txt").write_text("Sky\n\nCar\nVoid\n")
    code, out, _ = run_cli(capsys, "check", ds)
    assert code == 1 and "codes.txt: line 2 is empty" in out
    (ds / "codes.txt").write_text("Sky\nRoad\nsky\nVoid\n")
    code, out, _ = run_cli(capsys, "check", ds)
    assert code == 1 and "codes.txt: line 3: class 'sky' repeats line 1" in out


def test_forgiving_codes_file_is_clean(tmp_path, capsys):
    ds = tmp_path / "ds"
    make_native(ds)
    (ds / "codes.txt").write_bytes(b"\xef\xbb\xbfSky \r\nRoad\t\r\nCar\r\nVoid\r\n\r\n")
    code, out, _ = run_cli(capsys, "check", ds)
    assert code == 0 and "4 classes" in out


def test_missing_folder_is_a_user_error(tmp_path, capsys):
    code, _, err = run_cli(capsys, "check", tmp_path / "nope")
    assert code == 2 and "nope: no such folder" in err


def test_image_in_both_valid_and_test_is_a_problem(tmp_path, capsys):
    make_native(tmp_path / "ds")
    (tmp_path / "ds" / "test.txt").write_text("0001TP_002.png\n")
    code, out, _ = run_cli(capsys, "check", tmp_path / "ds")
    assert code == 1 and "test.txt: 0001TP_002 is also in valid.txt" in out

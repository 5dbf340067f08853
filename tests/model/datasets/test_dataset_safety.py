"""Class lists and path safety: forgiving where harmless, strict where it matters, errors name file and line."""

from __future__ import annotations

import pytest
from test_dataset_helpers import make_cvat, make_native, run_cli

from model.datasets import import_dataset
from model.datasets.import_colour import load_class_file, parse_label_colors
from model.datasets.staging import check_name, staged
from model.errors import CodesError, DatasetError
from model.project.codes import parse_codes
from model.project.layout import relative_entry


def test_codes_text_tolerates_bom_crlf_trailing_spaces_and_final_blank_line():
    assert parse_codes("\ufeffSky \r\nRoad\t\r\nCar\r\n\r\n") == ["Sky", "Road", "Car"]


@pytest.mark.parametrize(("text", "message"), [
    ("Sky\n\nRoad\n", "line 2 is empty"),
    ("Sky\nRoad\nSKY\n", "line 3: class 'SKY' repeats line 1"),
    ("", "no class names"),
])
def test_codes_text_errors_name_the_line(text, message):
    with pytest.raises(CodesError, match=message):
        parse_codes(text, "codes.txt")


def test_import_with_a_broken_codes_txt_names_it(tmp_path, capsys):
    make_native(tmp_path / "src")
    (tmp_path / "src" / "codes.txt").write_text("Sky\nRoad\nRoad\nVoid\n")
    code, _, err = run_cli(capsys, "import", tmp_path / "src", tmp_path / "dst")
    assert code == 2 and "codes.txt: line 3: class 'Road' repeats line 2" in err
    assert not (tmp_path / "dst").exists()


def test_label_colors_parsing(tmp_path):
    path = tmp_path / "label_colors.txt"
    path.write_text("\ufeff0 0 0\tVoid\r\n128 64 128 Road\r\n64 0 128 Parked car\r\n\r\n")
    names, table = parse_label_colors(path)
    assert names == ["Void", "Road", "Parked car"] and table.tolist()[1] == [128, 64, 128]
    path.write_text("0 0 0 Void\n0 0 0 Road\n")
    with pytest.raises(CodesError, match=r"label_colors\.txt: line 2: colour \(0, 0, 0\) repeats line 1"):
        parse_label_colors(path)
    path.write_text("0 0 0 Void\n1 2 Road\n")
    with pytest.raises(CodesError, match="line 2: expected 'R G B name'"):
        parse_label_colors(path)
    path.write_text("0 0 0 Void\n300 0 0 Road\n")
    with pytest.raises(CodesError, match="line 2: colour .* outside 0..255"):
        parse_label_colors(path)


def test_class_dict_csv_errors_name_the_line(tmp_path):
    path = tmp_path / "class_dict.csv"
    path.write_text("name,r,g,b\nSky,128,128,128\nRoad,128,x,128\n")
    with pytest.raises(CodesError, match=r"class_dict\.csv: line 3: r,g,b must be whole numbers"):
        load_class_file(path)


def test_codes_option_overrides_segnet_names(tmp_path):
    from test_dataset_helpers import make_segnet

    make_segnet(tmp_path / "src", counts=(("train", 1),))
    names = tmp_path / "names.txt"
    names.write_text("".join(f"c{i}\n" for i in range(12)))
    import_dataset(tmp_path / "src", tmp_path / "dst", class_file=names)
    assert (tmp_path / "dst" / "codes.txt").read_text().split() == [f"c{i}" for i in range(12)]
    names.write_text("a\nb\n")  # masks hold indices up to 11
    with pytest.raises(DatasetError, match=r"0016E5_train000\.png: class index 1[01] is not in codes\.txt"):
        import_dataset(tmp_path / "src", tmp_path / "dst2", class_file=names)


@pytest.mark.parametrize("entry", ["../x.png", "a/../../x.png", "C:\\data\\x.png", "   "])
def test_list_entries_cannot_leave_the_dataset(entry):
    with pytest.raises(DatasetError, match="valid.txt: line 4"):
        relative_entry(entry, "valid.txt", 4)


def test_absolute_entries_count_from_the_dataset_root():
    assert str(relative_entry("/train/a.png", "train.txt", 1)) == "train/a.png"


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "a\\b", "", "x\ny"])
def test_unsafe_item_names_are_refused(name):
    with pytest.raises(DatasetError, match="not a usable image name"):
        check_name(name, "list.txt")


def test_staging_leaves_dst_untouched_on_failure_and_cleans_up(tmp_path):
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="already exists"):
        with staged(dst):
            pass
    with pytest.raises(RuntimeError):
        with staged(dst, force=True) as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("boom")
    assert [p.name for p in dst.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst"]


def test_cvat_without_label_colors_uses_camvid_colours(tmp_path):
    import numpy as np

    from model.project.palette import CAMVID_COLOURS

    colours = np.array([CAMVID_COLOURS["void"], CAMVID_COLOURS["road"], CAMVID_COLOURS["car"], CAMVID_COLOURS["sky"]],
                       dtype=np.uint8)
    masks = make_cvat(tmp_path / "src", subsets=(("train", 1),), colours=colours, codes=["Void", "Road", "Car", "Sky"])
    (tmp_path / "src" / "label_colors.txt").unlink()
    result = import_dataset(tmp_path / "src", tmp_path / "dst")
    assert result.format == "cvat-camvid" and result.classes == 32
    codes = (tmp_path / "dst" / "codes.txt").read_text().split()
    from test_dataset_helpers import read_indices

    got = read_indices(tmp_path / "dst" / "labels" / "train_0_P.png")
    assert np.array_equal(np.asarray(codes)[got], np.asarray(["Void", "Road", "Car", "Sky"])[masks["train_0"]])

"""labeltool split: whole video sequences on one side, configurable grouping, deterministic, warnings."""

from __future__ import annotations

import pytest
from test_dataset_helpers import make_native, run_cli

from model.datasets.split import split_dataset
from model.errors import DatasetError
from model.project.layout import DEFAULT_GROUP_REGEX, group_of

NAMES = [f"{seq}_{i:03d}" for seq, count in (("0016E5", 30), ("0001TP", 12), ("0006R0", 10), ("Seq05VD_f", 8),
                                              ("0005VD", 6)) for i in range(count)]


def _groups(valid_text: str) -> set[str]:
    import re

    pattern = re.compile(DEFAULT_GROUP_REGEX)
    return {group_of(line.rsplit(".", 1)[0], pattern) for line in valid_text.split()}


def test_default_group_is_the_sequence_prefix():
    import re

    pattern = re.compile(DEFAULT_GROUP_REGEX)
    assert group_of("0016E5_07959", pattern) == "0016E5"
    assert group_of("Seq05VD_f00000", pattern) == "Seq05VD"
    assert group_of("frame7", pattern) == "frame7"  # no prefix: its own group


def test_no_sequence_lands_on_both_sides_and_the_fraction_is_close(tmp_path, capsys):
    make_native(tmp_path / "ds", names=NAMES, valid=())
    code, out, _ = run_cli(capsys, "split", tmp_path / "ds", "--valid", "0.2")
    assert code == 0
    valid = (tmp_path / "ds" / "valid.txt").read_text().split()
    valid_groups = _groups("\n".join(valid))
    train_groups = _groups("\n".join(f"{n}.png" for n in NAMES if f"{n}.png" not in valid))
    assert valid_groups and not valid_groups & train_groups
    assert abs(len(valid) - 0.2 * len(NAMES)) <= 3
    assert all(line.endswith(".png") for line in valid)  # file names, as FileSplitter compares them


def test_split_is_deterministic_and_the_seed_changes_it(tmp_path):
    make_native(tmp_path / "ds", names=NAMES, valid=())
    first = split_dataset(tmp_path / "ds", 0.3, seed=1, dry_run=True).valid
    assert split_dataset(tmp_path / "ds", 0.3, seed=1, dry_run=True).valid == first
    others = {tuple(split_dataset(tmp_path / "ds", 0.3, seed=s, dry_run=True).valid) for s in range(2, 8)}
    assert others - {tuple(first)}


def test_group_regex_is_configurable(tmp_path):
    names = [f"cam{c}_day{d}_{i}" for c in (1, 2) for d in (1, 2, 3) for i in range(4)]
    make_native(tmp_path / "ds", names=names, valid=())
    plan = split_dataset(tmp_path / "ds", 0.34, group_regex=r"^(cam\d+_day\d+)", dry_run=True)
    assert len(plan.groups) == 6
    assert len(plan.valid) == 8 and len(plan.valid_groups) == 2


def test_small_validation_set_warns(tmp_path, capsys):
    make_native(tmp_path / "ds", valid=())  # 5 images in 3 sequences
    code, _, err = run_cli(capsys, "split", tmp_path / "ds", "--valid", "0.2")
    assert code == 0 and "warning:" in err and "too few to measure" in err


def test_test_images_stay_out_and_one_group_is_refused(tmp_path, capsys):
    make_native(tmp_path / "ds", names=NAMES, valid=())
    (tmp_path / "ds" / "test.txt").write_text("".join(f"0005VD_{i:03d}.png\n" for i in range(6)))
    plan = split_dataset(tmp_path / "ds", 0.2, dry_run=True)
    assert "0005VD" not in plan.groups
    with pytest.raises(DatasetError, match="one group"):
        split_dataset(tmp_path / "ds", 0.2, group_regex=r"^", dry_run=True)


def test_existing_valid_txt_is_kept_without_force(tmp_path, capsys):
    make_native(tmp_path / "ds", names=NAMES, valid=("0016E5_000",))
    code, _, err = run_cli(capsys, "split", tmp_path / "ds")
    assert code == 2 and "valid.txt: already exists" in err
    assert (tmp_path / "ds" / "valid.txt").read_text() == "0016E5_000.png\n"
    assert run_cli(capsys, "split", tmp_path / "ds", "--force")[0] == 0
    assert (tmp_path / "ds" / "valid.txt").read_text() != "0016E5_000.png\n"


def test_remember_stores_the_sequence_setting_the_hold_out_and_neighbours_read(tmp_path, capsys):
    from model.project.layout import project_group_regex
    from model.project.project import Project

    make_native(tmp_path / "ds", names=[f"IMG_{i:04d}" for i in range(10)], valid=())
    code, out, _ = run_cli(capsys, "split", tmp_path / "ds", "--valid", "0.2", "--group-regex", "none",
                           "--remember")
    assert code == 0 and "sequence_regex" in out
    assert project_group_regex(Project.open(tmp_path / "ds")) is None  # independent photos from now on
    assert "from 2 groups" in out  # each photo its own group, not one video called IMG
    code, _, err = run_cli(capsys, "split", tmp_path / "ds", "--group-regex", "(", "--remember")
    assert code != 0 and "not a regular expression" in err
    assert project_group_regex(Project.open(tmp_path / "ds")) is None  # unchanged

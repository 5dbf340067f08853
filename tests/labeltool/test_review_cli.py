"""`labeltool review` and `labeltool status` know reviewed and rejected masks (issue 19)."""

from __future__ import annotations

import json

import numpy as np

from labeltool.cli import main
from model.images.imageio import write_image
from model.project.codes import write_codes
from model.project.project import Project

SIZE = (16, 20)


def make(root):
    write_codes(root / "codes.txt", ["Sky", "Road", "Void"])
    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(root / "images" / f"f{i}.png", rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8))
    project = Project.open(root)
    for i in range(3):
        project.save_mask(f"f{i}", rng.integers(0, 3, SIZE).astype(np.uint8), "corrected")
    return project


def test_review_command_approves_rejects_and_status_lists_them(tmp_path, capsys):
    make(tmp_path)
    assert main(["review", str(tmp_path), "--approve", "f0", "f1.png", "--by", "rita"]) == 0
    assert "f0\tcorrected -> reviewed" in capsys.readouterr().out
    assert main(["review", str(tmp_path), "--reject", "f1"]) == 2  # no note
    assert "--note" in capsys.readouterr().err
    assert main(["review", str(tmp_path), "--reject", "f1", "--note", "the kerb is road", "--by", "rita"]) == 0
    assert main(["review", str(tmp_path), "--approve", "f3"]) == 2  # no mask: named, the rest goes on
    assert "f3_P.png" in capsys.readouterr().err

    assert main(["status", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"none": 1, "proposed": 0, "edited": 0, "corrected": 1, "reviewed": 1, "rejected": 1,
                             "unknown": 0}
    f1 = next(row for row in out["images"] if row["name"] == "f1")
    assert f1["status"] == "rejected"
    assert f1["review"]["note"] == "the kerb is road" and f1["review"]["by"] == "rita"

    assert main(["status", str(tmp_path), "--only", "rejected"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if "\t" in line]
    assert len(lines) == 1 and lines[0].startswith("f1\trejected") and "the kerb is road" in lines[0]
    assert "rejected by a reviewer" in captured.err
    assert main(["status", str(tmp_path), "--only", "reviewed"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines() if "\t" in line] == ["f0"]


def test_review_command_sets_train_only_reviewed(tmp_path, capsys):
    make(tmp_path)
    assert main(["review", str(tmp_path), "--approve", "f2"]) == 0
    assert Project.open(tmp_path).training_names()[0] == ["f0", "f1", "f2"]
    assert main(["review", str(tmp_path), "--train-only-reviewed", "on"]) == 0
    assert Project.open(tmp_path).training_names()[0] == ["f2"]
    assert main(["review", str(tmp_path), "--train-only-reviewed", "off"]) == 0
    assert Project.open(tmp_path).training_names()[0] == ["f0", "f1", "f2"]

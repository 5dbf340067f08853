"""The `labeltool` command and the built-in demo project."""

import subprocess
import sys

import numpy as np
import pytest

from labeltool.cli import COMMANDS, main
from model.datasets.demo import create_demo_project
from model.project.project import Project


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("open", "demo", "train", "predict", "evaluate", "lr-find", "import", "export", "split", "check"):
        assert name in out
    for name in COMMANDS:  # every registered command is listed (models, status, ... included)
        assert name.rstrip("_").replace("_", "-") in out


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nowhere")]) != 0
    assert main(["predict", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err


def test_demo_project_is_a_clean_dataset_with_some_labelled_images(tmp_path):
    root = create_demo_project(tmp_path / "demo")
    project = Project.open(root)
    statuses = project.statuses()
    assert list(statuses.values()).count("corrected") == 9 and list(statuses.values()).count("none") == 15
    assert project.valid_names() and project.valid_names() <= set(project.corrected_names())
    groups = {name.split("_")[0] for name in project.valid_names()}
    assert groups == {"seqC"}  # one whole sequence validates
    mask = project.load_mask("seqA_0000")
    assert len(np.unique(mask)) >= 5  # sky, building, road, sidewalk, car at least
    result = subprocess.run([sys.executable, "-m", "labeltool", "check", str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    with pytest.raises(FileExistsError):
        create_demo_project(root)

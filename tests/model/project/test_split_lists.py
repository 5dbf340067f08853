"""Split lists fail closed: any problem in valid.txt/test.txt stops training with the file and the line;
`labeltool check` lists every problem; a correct list keeps its images out of training."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _train_data import REPO, TINY, make_dataset, train_env

from model.datasets.check import check_dataset
from model.project.layout import SplitListError
from model.project.project import Project
from model.training.data import split_names


def test_a_line_with_another_suffix_stops_training_naming_file_and_line(tmp_path):
    root = make_dataset(tmp_path / "ds")
    (root / "test.txt").write_text("img05.png\n# a comment\nimg02.jpg\n")  # the image is img02.png
    project = Project.open(root)
    with pytest.raises(SplitListError, match=r"test\.txt: line 3: img02\.jpg is not an image.*img02\.png exists"):
        project.training_names()
    with pytest.raises(SplitListError, match="test.txt: line 3"):
        split_names(project)
    with pytest.raises(SplitListError):
        project.test_names()


def test_non_utf8_valid_list_stops_training_instead_of_reading_as_absent(tmp_path):
    root = make_dataset(tmp_path / "ds")
    (root / "valid.txt").write_bytes(b"img00.png\nimg01\xe9.png\n")  # Latin-1, not UTF-8
    with pytest.raises(SplitListError, match=r"valid\.txt: line 2: not UTF-8") as info:
        Project.open(root).training_names()
    assert info.value.line == 2 and info.value.path == root / "valid.txt"


def test_unreadable_lists_stop_training(tmp_path):
    root = make_dataset(tmp_path / "ds")
    (root / "valid.txt").unlink()
    (root / "valid.txt").symlink_to(root / "nowhere.txt")  # a link leading nowhere is not "no list"
    with pytest.raises(SplitListError, match="valid.txt: a symbolic link that leads to no file"):
        Project.open(root).training_names()
    (root / "valid.txt").unlink()
    (root / "valid.txt").mkdir()
    with pytest.raises(SplitListError, match="valid.txt: cannot read"):
        Project.open(root).training_names()


def test_malformed_line_stops_training_and_check_lists_every_problem(tmp_path):
    root = make_dataset(tmp_path / "ds")
    (root / "valid.txt").write_text("img00.png\n../outside.png\nimg01.jpg\nnope\n")
    with pytest.raises(SplitListError, match=r"valid\.txt: line 2: .*leads out.*and 2 more problem") as info:
        Project.open(root).training_names()
    assert info.value.line == 2
    report = check_dataset(root)  # the read-only view lists them all instead of stopping at the first
    listed = [p for p in report.problems if "valid.txt" in p]
    assert [p.split(": ")[1] for p in listed] == ["line 2", "line 3", "line 4"]


def test_train_cli_reports_the_list_problem_as_one_error_event_and_writes_no_model(tmp_path):
    from model.progress import parse_event

    root = make_dataset(tmp_path / "ds")
    (root / "test.txt").write_text("img02.jpg\n")
    cmd = [sys.executable, "-m", "labeltool", "train", str(root), "--json", "--epochs", "1", "--encoder-weights",
           "none", "--size", "64", "--scale", "1", "--batch-size", "2", "--threads", "1"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=train_env(), timeout=120)
    assert out.returncode != 0
    events = [parse_event(line) for line in out.stdout.splitlines()]
    assert [e["event"] for e in events] == ["error"]
    assert "test.txt: line 1: img02.jpg" in events[0]["message"]
    assert not list((root / "models").glob("*.safetensors"))  # no card could list img02 as trained on


def test_a_correct_list_keeps_its_images_out_of_the_cards_training_images(tmp_path):
    from model.nets.config import TrainConfig
    from model.registry.modelfile import load_model
    from model.training.train import train_dataset

    root = make_dataset(tmp_path / "ds")
    (root / "test.txt").write_text("img02.png\nimg03\n")  # a file name or a bare name
    project = Project.open(root)
    assert project.test_names() == {"img02", "img03"}
    path = train_dataset(root, TrainConfig(**TINY, epochs=1))
    card = load_model(path).card
    assert card["training_images"] == ["img04", "img05"]


def test_the_apps_retrain_reports_the_file_and_line(tmp_path, qtbot, monkeypatch):
    """The app's Retrain runs `labeltool train --json` as a child: its failure text is the error event."""
    pytest.importorskip("PySide6")
    from labeltool.gui.workers import TrainProcess

    root = make_dataset(tmp_path / "ds")
    (root / "valid.txt").write_bytes(b"img00.png\nimg01\xe9.png\n")
    monkeypatch.setenv("LABELTOOL_OFFLINE", "1")
    trainer = TrainProcess(str(root), ["--encoder-weights", "none", "--threads", "1"])
    with qtbot.waitSignal(trainer.finished, timeout=120_000) as done:
        trainer.start()
    ok, message = done.args
    assert not ok and "valid.txt: line 2: not UTF-8" in message

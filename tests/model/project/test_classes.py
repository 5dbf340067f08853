"""Changing the class list: every pixel keeps its meaning, statuses are kept, a hand-edited codes.txt is
refused at open, a crash midway recovers, models on the old list are refused, a split asks for a person."""

import json

import numpy as np
import pytest

from model.errors import CodesError, ModelFileError
from model.images.imageio import write_image
from model.project import class_journal
from model.project.classes import plan_add, plan_merge, plan_rename, plan_reorder, plan_split
from model.project.codes import read_codes, write_codes
from model.project.project import Project
from model.project.provenance import read_stamp
from model.registry.modelfile import check_classes

CODES = ["Sky", "Road", "Car", "Tree", "Void"]
SAVED = {"img0": "proposed", "img1": "edited", "img2": "corrected", "img3": "corrected"}


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(root / "images" / f"img{i}.png", rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
    write_codes(root / "codes.txt", CODES)
    p = Project.open(root)
    for name, status in SAVED.items():
        p.save_mask(name, rng.integers(0, len(CODES), (12, 16)).astype(np.uint8), status,
                    model="m1" if status == "proposed" else None)
    return p


def names_per_pixel(p):
    return {n: np.asarray(p.codes, dtype=object)[p.load_mask(n)] for n in p.names()}


def snapshot(root):
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*"))
            if f.is_file() and not f.name.startswith("record.sqlite")}


@pytest.mark.parametrize("make", [
    lambda c: plan_merge(c, ["Car", "Tree"], "Thing"),
    lambda c: plan_merge(c, ["Tree"], "Sky"),
    lambda c: plan_reorder(c, ["Void", "Car", "Sky", "Tree", "Road"]),
])
def test_merge_and_reorder_keep_every_pixels_meaning_and_status(project, make):
    before, statuses = names_per_pixel(project), project.statuses()
    change = make(list(project.codes))
    class_journal.apply(project, change)
    merged = change.pairs()
    again = Project.open(project.root)
    assert again.codes == change.new == read_codes(project.root / "codes.txt")
    after = names_per_pixel(again)
    for name in project.names():
        expected = np.vectorize(merged.get, otypes=[object])(before[name])
        assert (after[name] == expected).all(), name
    assert again.statuses() == statuses == SAVED
    assert again.warnings == []
    assert list((project.root / "models").glob("codes-*.txt"))


def test_dry_run_changes_nothing_and_counts_pixels(project):
    before = snapshot(project.root)
    lines = class_journal.apply(project, plan_reorder(CODES, ["Road", "Sky", "Car", "Tree", "Void"]), dry_run=True)
    assert lines[0].startswith("dry run")
    assert any("img2:" in line and "pixels renumbered" in line for line in lines)
    assert snapshot(project.root) == before


def test_hand_reordered_codes_are_refused_at_open_and_nothing_changes(project):
    root = project.root
    write_codes(root / "codes.txt", ["Road", "Sky", "Car", "Tree", "Void"])
    before = snapshot(root)
    db_before = (root / ".labeltool" / "record.sqlite").read_bytes()
    with pytest.raises(CodesError) as caught:
        Project.open(root)
    message = str(caught.value)
    assert "codes.txt" in message and "Sky and Road swapped places" in message
    assert "labeltool classes" in message and "reorder Road Sky Car Tree Void" in message
    assert snapshot(root) == before
    assert (root / ".labeltool" / "record.sqlite").read_bytes() == db_before
    class_journal.restore_codes(root)  # the way back the message names
    assert Project.open(root).codes == CODES


def test_hand_rename_is_refused_and_named(project):
    write_codes(project.root / "codes.txt", ["Sky", "Street", "Car", "Tree", "Void"])
    with pytest.raises(CodesError, match="Road .line 2. is now called Street.*rename Road Street"):
        Project.open(project.root)


def test_appending_a_class_is_accepted_and_remembered(project):
    write_codes(project.root / "codes.txt", [*CODES, "Bus"])
    again = Project.open(project.root)
    assert again.codes == [*CODES, "Bus"]
    assert again.statuses() == SAVED
    assert again.db.get_meta("codes") == [*CODES, "Bus"]


def test_add_and_rename_keep_pixels_and_stamps_say_the_list(project):
    pixels = {n: project.load_mask(n) for n in project.names()}
    class_journal.apply(project, plan_add(list(project.codes), "Bus", (1, 2, 3)))
    class_journal.apply(project, plan_rename(list(project.codes), "Road", "Street"))
    again = Project.open(project.root)
    assert again.codes == ["Sky", "Street", "Car", "Tree", "Void", "Bus"]
    assert tuple(again.palette[-1]) == (1, 2, 3)
    assert all((again.load_mask(n) == pixels[n]).all() for n in again.names())
    assert again.statuses() == SAVED
    assert read_stamp(again.label_path("img2"))["codes"].startswith("6:")


def test_model_of_the_old_list_is_refused_with_both_lists(project):
    card = {"classes": list(CODES), "weights_file": "m1.safetensors"}
    change = plan_reorder(CODES, ["Road", "Sky", "Car", "Tree", "Void"])
    class_journal.apply(project, change)
    with pytest.raises(ModelFileError) as caught:
        check_classes(card, project.codes, "models/m1.safetensors")
    message = str(caught.value)
    assert "models/m1.safetensors" in message and "classes differ" in message
    assert str(CODES) in message and str(change.new) in message


@pytest.mark.parametrize("step,after", [("stage", 2), ("swap", 2)])
def test_crash_midway_recovers_to_one_consistent_state(project, monkeypatch, step, after):
    root = project.root
    before = names_per_pixel(project)

    def crash(where, n):
        if where == step and n == after:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(class_journal, "_crash_point", crash)
    change = plan_merge(list(CODES), ["Car", "Tree"], "Thing")
    with pytest.raises(KeyboardInterrupt):
        class_journal.apply(project, change)
    monkeypatch.undo()
    again = Project.open(root)
    assert not (root / ".labeltool" / "classes-change").exists()
    expected_codes = CODES if step == "stage" else change.new
    assert again.codes == expected_codes == read_codes(root / "codes.txt")
    assert any("interrupted" in w for w in again.warnings)
    pairs = change.pairs() if step == "swap" else {n: n for n in CODES}
    after_names = names_per_pixel(again)
    for name in again.names():
        assert (after_names[name] == np.vectorize(pairs.get, otypes=[object])(before[name])).all(), name
    assert again.statuses() == SAVED


def test_split_makes_masks_with_its_pixels_edited_and_marks_them(project):
    before = {n: project.load_mask(n) for n in project.names()}
    lines = class_journal.apply(project, plan_split(list(CODES), "Car", ["Car", "Truck"]))
    again = Project.open(project.root)
    assert again.codes == ["Sky", "Road", "Car", "Truck", "Tree", "Void"]
    statuses = again.statuses()
    for name in again.names():
        assert statuses[name] == "edited"  # every random mask holds Car pixels
        marked = again.load_unpainted(name)
        assert marked is not None and (marked >= (before[name] == 2)).all()
        assert name in "\n".join(lines)
    assert again.training_names() == ([], [])
    with pytest.raises(Exception, match="nobody painted"):
        again.set_status("img2", "corrected")
    journal = json.loads(next((project.root / "models").glob("codes-*.json")).read_text())
    assert journal["mapping"]["Car"] == "Car" and journal["op"] == "split"


def test_a_window_opened_before_the_change_cannot_save_old_numbers(project):
    stale = Project.open(project.root)  # e.g. the app, open while a terminal changes the list
    class_journal.apply(project, plan_add(CODES, "Bus"))  # a class at the end changes no number: saves go on
    stale.save_mask("img3", project.load_mask("img3"), "corrected")
    with pytest.raises(Exception, match="planned for"):  # a plan made before the add is refused
        class_journal.apply(project, plan_reorder(CODES, ["Road", "Sky", "Car", "Tree", "Void"]))
    class_journal.apply(project, plan_reorder(project.codes, ["Road", "Sky", "Car", "Tree", "Void", "Bus"]))
    before = project.label_path("img3").read_bytes()
    with pytest.raises(CodesError, match="changed since this dataset was opened"):
        stale.save_mask("img3", np.zeros((12, 16), np.uint8), "corrected")
    assert project.label_path("img3").read_bytes() == before


def test_cli_dry_run_then_merge_and_a_copied_mask_is_found(project, capsys):
    from labeltool.cli import main

    root = str(project.root)
    assert main(["classes", root, "merge", "Car", "Tree", "--into", "Thing", "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out and read_codes(project.root / "codes.txt") == CODES
    foreign = project.label_path("img1").read_bytes()  # stamped with the old list
    assert main(["classes", root, "merge", "Car", "Tree", "--into", "Thing"]) == 0
    assert read_codes(project.root / "codes.txt") == ["Sky", "Road", "Thing", "Void"]
    project.label_path("img1").write_bytes(foreign)  # a mask copied in from a dataset with the old list
    assert main(["classes", root]) == 0
    assert "made for another class list" in capsys.readouterr().out


def test_the_kept_proposal_is_renumbered_too(project):
    proposal = names_per_pixel(project)["img0"]
    project.save_mask("img0", np.zeros((12, 16), np.uint8), "corrected")  # the proposal is kept aside
    class_journal.apply(project, plan_reorder(CODES, ["Void", "Tree", "Car", "Road", "Sky"]))
    again = Project.open(project.root)
    again.set_status("img0", "proposed")  # "Revert to proposal"
    assert again.status("img0") == "proposed"
    assert (names_per_pixel(again)["img0"] == proposal).all()


def test_a_mask_that_cannot_be_renumbered_stops_the_change_before_anything_changes(project):
    from PIL import Image

    Image.fromarray(np.full((12, 16), 9, np.uint8), mode="L").save(project.label_path("img3"))
    before = snapshot(project.root)
    with pytest.raises(Exception, match="img3_P.png.*holds class 9"):
        class_journal.apply(project, plan_reorder(CODES, ["Road", "Sky", "Car", "Tree", "Void"]))
    assert snapshot(project.root) == before
    assert not (project.root / ".labeltool" / "classes-change").exists()


def test_labeltool_models_marks_a_model_of_the_old_list_classes_differ(project, capsys):
    import torch

    from labeltool.cli import main
    from model.nets.networks import make_net, normalization
    from model.registry.modelfile import make_card, save_model

    torch.manual_seed(0)
    card = make_card(arch="Unet", encoder="resnet18", classes=list(CODES), void_index=4,
                     normalization=normalization(), input_size=[16, 16], training_images=["img2"], metrics={})
    save_model(project.models_dir, make_net("Unet", "resnet18", len(CODES)).eval(), card)
    assert main(["models", str(project.root)]) == 0
    assert "classes differ" not in capsys.readouterr().out
    class_journal.apply(project, plan_merge(list(CODES), ["Car", "Tree"], "Thing"))
    assert main(["models", str(project.root)]) == 0
    assert "classes differ" in capsys.readouterr().out
    assert main(["classes", str(project.root)]) == 0
    assert "classes differ" in capsys.readouterr().out


def test_a_lost_codes_txt_is_not_recreated_with_another_order(project):
    (project.root / "codes.txt").unlink()
    with pytest.raises(CodesError, match="swapped places"):
        Project.open(project.root, codes=["Road", "Sky", "Car", "Tree", "Void"])
    assert not (project.root / "codes.txt").exists()
    assert Project.open(project.root, codes=list(CODES)).statuses() == SAVED


def test_a_reviewers_verdict_follows_the_renumbered_pixels(project):
    from model.project.provenance import array_hash, stamp

    path = project.label_path("img2")
    old = project.load_mask("img2")
    info = {k: v for k, v in read_stamp(path).items() if k != "v"}
    info["review"] = {"verdict": "approved", "by": "rev", "at": "t", "note": "", "pixels": array_hash(old)}
    path.write_bytes(stamp(path.read_bytes(), info))
    class_journal.apply(project, plan_reorder(CODES, ["Void", "Tree", "Car", "Road", "Sky"]))
    again = Project.open(project.root)
    review = read_stamp(path)["review"]
    assert review["pixels"] == array_hash(again.load_mask("img2")) != array_hash(old)
    assert review["verdict"] == "approved" and read_stamp(path)["by"] == info["by"]


CHILD = """
import os, sys
from model.project import class_journal
from model.project.classes import plan_merge
from model.project.project import Project

step, after = sys.argv[2], int(sys.argv[3])
class_journal._crash_point = lambda where, n: os._exit(9) if (where, n) == (step, after) else None
p = Project.open(sys.argv[1])
class_journal.apply(p, plan_merge(list(p.codes), ["Car", "Tree"], "Thing"))
"""


@pytest.mark.parametrize("step", ["stage", "swap"])
def test_a_process_killed_midway_leaves_a_state_the_next_open_completes(project, step):
    import os
    import subprocess
    import sys
    from pathlib import Path

    before = names_per_pixel(project)
    repo = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", CHILD, str(project.root), step, "3"], env=env, timeout=60)
    assert done.returncode == 9  # killed: no finally block ran
    again = Project.open(project.root)
    pairs = (plan_merge(CODES, ["Car", "Tree"], "Thing").pairs() if step == "swap" else {n: n for n in CODES})
    assert again.codes == list(dict.fromkeys(pairs.values()))
    after = names_per_pixel(again)
    for name in again.names():
        assert (after[name] == np.vectorize(pairs.get, otypes=[object])(before[name])).all(), name
    assert again.statuses() == SAVED


@pytest.mark.parametrize("make", [
    lambda c: plan_add(c, " "), lambda c: plan_rename(c, "Void", ""), lambda c: plan_add(c, "Sign\nPole"),
    lambda c: plan_split(c, "Void", ["Void", ""]), lambda c: plan_merge(c, ["Car", "Tree"], ""),
])
def test_an_empty_or_multi_line_name_is_refused(make):
    with pytest.raises(CodesError, match="one non-empty line"):
        make(list(CODES))  # codes.txt drops blank last lines: such a list would not read back as written


@pytest.mark.parametrize("make", [lambda c: plan_reorder(c, list(c)), lambda c: plan_rename(c, "Car", "Car ")])
def test_a_change_that_changes_nothing_is_refused(make):
    with pytest.raises(CodesError, match="nothing"):
        make(list(CODES))  # no new version of the list, no models marked as not matching for nothing

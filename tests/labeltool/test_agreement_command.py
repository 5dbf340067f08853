"""Two annotators label copies of one dataset with an overlap; the merge keeps both people's masks of the
overlap as their opinions, whatever the conflict's resolution; `labeltool agreement` measures them and writes
a consensus for the reviewer without touching labels/."""

import json
import shutil

import numpy as np

from labeltool.cli import main
from model.images.imageio import read_mask, write_image
from model.project.assignment import read_assignment
from model.project.codes import write_codes
from model.project.consensus_files import read_consensus_files
from model.project.merge_apply import read_conflicts, resolve
from model.project.opinions import read_opinions
from model.project.project import Project

CODES = ["Sky", "Road", "Car", "Void"]
H, W = 12, 16


def truth(i):
    mask = np.zeros((H, W), np.uint8)
    mask[H // 2:] = 1
    mask[H // 2:, 2 + i % 4:8 + i % 4] = 2
    return mask


def test_two_annotators_their_overlap_agreement_and_consensus(tmp_path, monkeypatch, capsys):
    ours = tmp_path / "alice"
    write_codes(ours / "codes.txt", CODES)
    rng = np.random.default_rng(1)
    names = [f"f{i:02d}" for i in range(8)]
    for name in names:
        write_image(ours / "images" / f"{name}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    assert main(["assign", str(ours), "--annotators", "alice,bob", "--overlap", "0.25"]) == 0
    assignment = read_assignment(ours / ".labeltool")
    overlap = assignment["overlap"]
    assert len(overlap) == 2 and set(assignment["assigned"]["alice"]) & set(assignment["assigned"]["bob"]) == set(overlap)
    assert set(assignment["assigned"]["alice"]) | set(assignment["assigned"]["bob"]) == set(names)
    theirs = tmp_path / "bob"
    shutil.copytree(ours, theirs)  # bob's laptop
    for root, who in ((ours, "alice"), (theirs, "bob")):
        monkeypatch.setenv("LABELTOOL_ANNOTATOR", who)
        project = Project.open(root)
        for name in read_assignment(root / ".labeltool")["assigned"][who]:
            mask = truth(names.index(name))
            if who == "bob":
                mask[mask == 2] = 1  # bob calls the cars Road
            project.save_mask(name, mask, "corrected")
    monkeypatch.setenv("LABELTOOL_ANNOTATOR", "rita")
    assert main(["merge", str(theirs), str(ours)]) == 0
    project = Project.open(ours)
    assert set(read_conflicts(project.state_dir)) == set(overlap)
    first = overlap[0]
    resolve(project, first, "theirs")  # the resolution keeps one mask in labels/ ...
    opinions = read_opinions(project.state_dir, first)
    assert sorted(opinions) == ["alice", "bob"]  # ... but agreement still sees both people's work
    assert (opinions["alice"] == truth(names.index(first))).all()
    capsys.readouterr()
    labels_before = {p.name: p.read_bytes() for p in (ours / "labels").glob("*.png")}
    assert main(["agreement", str(ours), "--json", "--write-consensus"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["annotators"] == ["alice", "bob"] and sorted(report["images"]) == sorted(overlap)
    assert report["per_class_iou"]["Sky"] == 1.0      # they agree on the sky
    assert report["per_class_iou"]["Car"] == 0.0      # and never on a car
    assert 0 < report["per_class_iou"]["Road"] < 1
    assert "Void" not in report["per_class_iou"]
    assert sorted(report["consensus_written"]) == sorted(overlap)
    mask, undecided = read_consensus_files(project, overlap[1])
    cars = truth(names.index(overlap[1])) == 2
    assert undecided[cars].all() and not undecided[~cars].any()  # two people, two answers: a person decides
    assert {p.name: p.read_bytes() for p in (ours / "labels").glob("*.png")} == labels_before
    assert (read_mask(ours / "labels" / f"{first}_P.png") == opinions["bob"]).all()
    assert main(["agreement", str(ours)]) == 0
    out = capsys.readouterr().out
    assert "IoU between annotators" in out and "Car" in out and "no model yet" in out

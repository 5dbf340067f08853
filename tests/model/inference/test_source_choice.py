"""propose_dataset("auto"): per image, the source the proposing model's card measured for its gap (issue 18)."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest
from _inference_data import save_constant_model
from _source_data import BACKGROUND, CODES, frame, make_sequence

from model.evaluation.sources import record_proposal_source
from model.inference.predict import Predictor
from model.inference.propose import propose_dataset
from model.inference.source_choice import CARD_KEY, choose
from model.project.project import Project
from model.registry.modelfile import load_model, read_card

HELD_OUT = (0, 1, 41, 81)


@pytest.fixture(scope="module")
def _measured_once(tmp_path_factory):
    """Frames 0, 1, 41, 81 corrected and held out; 2 (one frame after 1) and 130 (49 after 81) to propose;
    a constant "background" model measured on them (built once: a model takes seconds on a loaded machine)."""
    root = tmp_path_factory.mktemp("measured") / "seq"
    project = Project.open(make_sequence(root, {0: True, 1: True, 2: False, 41: True, 81: True, 130: False},
                                         valid=HELD_OUT))
    weights = save_constant_model(project.models_dir, CODES, winner=BACKGROUND)
    assert record_proposal_source(project, weights, [f"seq_{n:03d}" for n in HELD_OUT], device="cpu")
    return root, weights.relative_to(root)


@pytest.fixture
def measured(_measured_once, tmp_path):
    root, weights = _measured_once
    shutil.copytree(root, tmp_path / "seq")
    return Project.open(tmp_path / "seq"), tmp_path / "seq" / weights


@pytest.fixture(scope="module")
def predictor(_measured_once):
    """The measured model, loaded once (what the prefetch child and the app's proposer pass)."""
    root, weights = _measured_once
    return Predictor(load_model(root / weights), device="cpu", batch_size=1)


def _is_warp_of(mask, number):
    return (mask == frame(number)[1]).mean() > 0.97


def test_auto_warps_at_the_short_gap_and_leaves_the_long_one_to_the_network(measured):
    project, _ = measured
    assert propose_dataset(project, names=["seq_002", "seq_130"]) == ["seq_002", "seq_130"]
    assert _is_warp_of(project.load_mask("seq_002"), 2)  # the square followed from frame 1
    assert (project.load_mask("seq_130") == BACKGROUND).all()  # the network's, not frame 81's square


def test_warp_by_hand_still_warps_the_long_gap(measured, predictor):
    """The guard passes at gap 49: only the measured choice keeps the misplaced square out."""
    project, _ = measured
    propose_dataset(project, names=["seq_130"], neighbours="warp", predictor=predictor)
    assert _is_warp_of(project.load_mask("seq_130"), 81)


def test_a_card_without_the_record_falls_back_to_the_warp(measured, predictor):
    project, weights = measured
    card = read_card(weights)
    card.pop(CARD_KEY)
    old = copy.copy(predictor)
    old.card = card  # the same model, measured before issue 18
    propose_dataset(project, names=["seq_002", "seq_130"], predictor=old)
    assert _is_warp_of(project.load_mask("seq_002"), 2)
    assert _is_warp_of(project.load_mask("seq_130"), 81)  # the old default: warp wherever the guard passes


def test_the_guard_still_applies_to_a_measured_warp(measured, predictor):
    """The project says its images are independent photos: no neighbour, whatever the card measured."""
    project, _ = measured
    project.set_setting("sequence_regex", "")
    propose_dataset(project, names=["seq_002"], predictor=predictor)
    assert (project.load_mask("seq_002") == BACKGROUND).all()


def test_choose_reads_the_buckets_and_the_learned_maximum_gap():
    record = {"version": 1, "max_warp_gap": 5,
              "buckets": [{"gaps": [1, 1], "winner": "warp"}, {"gaps": [2, 5], "winner": "combine"},
                          {"gaps": [31, 90], "winner": "network"}]}
    assert [choose(record, g) for g in (1, 3, 20, 40)] == ["warp", "combine", "off", "off"]
    assert choose(None, 40) == "warp" and choose({"version": 99, "buckets": []}, 40) == "warp"
    assert choose({"version": 1, "max_warp_gap": None, "buckets": [{"gaps": [1, 1], "winner": "network"}]},
                  20) == "warp"  # unmeasured gap, no limit learned: the old default


def test_combine_measured_combines(measured, predictor):
    project, weights = measured
    card = read_card(weights)
    record = card[CARD_KEY]
    card[CARD_KEY] = dict(record, buckets=[dict(b, winner="combine") for b in record["buckets"]], max_warp_gap=None)
    combining = copy.copy(predictor)
    combining.card = card
    propose_dataset(project, names=["seq_002"], predictor=combining)
    # the constant network is sure (confidence ~0.99) everywhere: the combination is the network's mask
    assert (project.load_mask("seq_002") == BACKGROUND).all()
    assert np.any(frame(2)[1] != BACKGROUND)


def test_labeltool_predict_defaults_to_auto(measured):
    from labeltool.cli import main

    project, weights = measured
    assert main(["predict", str(project.root), "--model", str(weights), "--only", "seq_130"]) == 0
    assert (Project.open(project.root).load_mask("seq_130") == BACKGROUND).all()
    assert main(["predict", str(project.root), "--model", str(weights), "--only", "seq_130", "--neighbours", "warp"]) == 0
    assert _is_warp_of(Project.open(project.root).load_mask("seq_130"), 81)

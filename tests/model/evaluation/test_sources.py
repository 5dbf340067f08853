"""The proposal source measured per gap at the end of a retrain (issue 18): network, warp or both."""

from __future__ import annotations

import shutil

import pytest
from _inference_data import save_constant_model
from _source_data import BACKGROUND, CODES, make_sequence

from model.evaluation.sources import measurable_pairs, record_proposal_source, score_sources
from model.inference.predict import Predictor
from model.inference.source_choice import CARD_KEY
from model.project.project import Project
from model.registry.modelfile import card_path, load_model, read_card

HELD_OUT = (0, 1, 41, 81)


@pytest.fixture(scope="module")
def _model_once(tmp_path_factory):
    """A model whose head always says "background" (built once: seconds on a loaded machine)."""
    return save_constant_model(tmp_path_factory.mktemp("model"), CODES, winner=BACKGROUND)


@pytest.fixture
def model_file(_model_once, project):
    weights = project.models_dir / _model_once.name
    project.models_dir.mkdir(parents=True, exist_ok=True)
    for src in (_model_once, card_path(_model_once)):
        shutil.copy2(src, project.models_dir / src.name)
    return weights


@pytest.fixture
def project(tmp_path):
    return Project.open(make_sequence(tmp_path / "seq", {0: True, 1: True, 41: True, 81: True, 2: False},
                                      valid=HELD_OUT))


def _names(numbers):
    return [f"seq_{n:03d}" for n in numbers]


def test_pairs_are_held_out_frames_and_their_nearest_other_corrected_frame(project):
    pairs = measurable_pairs(project, _names(HELD_OUT))
    assert sorted(pairs) == sorted([("seq_000", "seq_001", 1), ("seq_001", "seq_000", 1), ("seq_001", "seq_041", 40),
                                    ("seq_041", "seq_001", 40), ("seq_041", "seq_081", 40), ("seq_081", "seq_041", 40)])
    project.set_setting("sequence_regex", "")  # independent photos: nothing to measure
    assert measurable_pairs(project, _names(HELD_OUT)) == []


def test_the_card_records_the_warp_at_gap_one_and_the_network_at_forty(project, model_file):
    weights = model_file
    notices = []
    record = record_proposal_source(project, weights, _names(HELD_OUT), device="cpu", on_event=notices.append)
    assert read_card(weights)[CARD_KEY] == record
    by_gap = {tuple(b["gaps"]): b for b in record["buckets"]}
    assert set(by_gap) == {(1, 1), (31, 90)}  # only the gaps this project has
    short, long = by_gap[(1, 1)], by_gap[(31, 90)]
    assert (short["frames"], long["frames"]) == (2, 4)
    assert short["winner"] == "warp" and short["pixel_accuracy"]["warp"] > 0.98
    assert short["pixel_accuracy"]["network"] == pytest.approx(1 - 24 * 24 / (32 * 128), abs=1e-3)
    assert long["winner"] == "network" and long["pixel_accuracy"]["warp"] < long["pixel_accuracy"]["network"] - 0.1
    assert all(set(b["miou"]) == {"network", "warp", "combine"} for b in record["buckets"])
    assert record["max_warp_gap"] == 30  # the network won from the 31-90 bucket on
    assert record["refused_by_guard"] == 0 and record["pairs"] == 6
    assert any("proposal source" in n["message"] for n in notices)


def test_nothing_measurable_leaves_the_card_alone(project, model_file):
    weights = model_file
    assert record_proposal_source(project, weights, ["seq_002"], device="cpu") is None  # not corrected
    assert CARD_KEY not in read_card(weights)
    predictor = Predictor(load_model(weights), device="cpu")
    assert score_sources(project, predictor, []) is None


def test_a_retrain_writes_the_record_into_its_card(tmp_path):
    """The end of a retrain (model.training.finish) measures the sources on its held-out frames."""
    from _train_data import TINY

    from model.nets.config import TrainConfig
    from model.training.train import train_dataset

    root = make_sequence(tmp_path / "seq", {n: True for n in (0, 1, 2, 3, 41, 81)}, valid=HELD_OUT)
    events = []
    path = train_dataset(root, TrainConfig(**dict(TINY, size=[32, 128]), epochs=1), on_event=events.append)
    record = read_card(path)[CARD_KEY]
    assert {tuple(b["gaps"]) for b in record["buckets"]} == {(1, 1), (31, 90)}
    assert any("proposal source by frame gap" in e.get("message", "") for e in events)


def test_the_warp_stays_unless_another_source_wins_by_more_than_the_noise():
    from model.evaluation.sources import winner_of

    accuracy = {"network": 0.80, "warp": 0.79, "combine": 0.82}
    # round 1 of the 50-frame session: combine measured 1 point ahead on 3 pairs, was 10 points behind ahead
    assert winner_of(accuracy, {"warp": [0.80, 0.78, 0.79], "combine": [0.81, 0.80, 0.80],
                                "network": [0.8] * 3})[0] == "warp"
    clear = {"warp": [0.60, 0.62, 0.58, 0.61], "combine": [0.80, 0.83, 0.79, 0.82], "network": [0.7] * 4}
    winner, advantage, error = winner_of(accuracy, clear)
    assert winner == "combine" and advantage == pytest.approx(0.2075) and error < 0.01
    noisy = {"warp": [0.5, 0.9, 0.5, 0.9], "combine": [0.9, 0.5, 0.95, 0.6], "network": [0.1] * 4}
    assert winner_of(accuracy, noisy)[0] == "warp"  # 5 points ahead on average, but the spread is larger
    assert winner_of(accuracy, {"warp": [0.5], "combine": [0.9], "network": [0.1]})[0] == "warp"  # one pair

"""Retrain you can trust: honest validation, the promotion gate, kept models, `labeltool models`, one trainer."""

import io
import json
import time
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
from _train_data import CODES, make_dataset
from PIL import Image

from model.nets.config import TrainConfig
from model.nets.networks import normalization
from model.progress import ConsoleProgress
from model.project.project import Project
from model.registry import registry
from model.registry.gate import MIOU_TOLERANCE
from model.registry.modelfile import KEEP_MODELS, list_models, load_model, make_card, read_card, save_model
from model.training.holdout import MIN_TRAIN_IMAGES, choose_holdout
from model.training.train import train_dataset
from model.training.train_lock import TrainingLocked, train_lock

TINY = dict(arch="Unet", encoder="resnet18", encoder_weights=None, size=[64, 64], scale=1.0, batch_size=2, threads=1,
            checkpoint_every=1e6, augment=False)  # one thread: the test machine's cores are shared


def _fake_model(models_dir, miou=None, names=("img00",)):
    """A complete model file without training (random tiny network), with validation figures in its card."""
    card = make_card(arch="Unet", encoder="resnet18", classes=CODES, void_index=3, normalization=normalization(),
                     input_size=[64, 64], training_images=list(names))
    if miou is not None:
        card["validation"] = {"source": "valid.txt", "images": ["img05"], "metrics": {"miou": miou,
                                                                                      "pixel_accuracy": 0.5}}
    path = save_model(models_dir, torch.nn.Conv2d(3, len(CODES), 1), card)  # small weights: the card is what counts
    time.sleep(0.01)  # completion order = card mtime order
    return path


def _cli_json(*args):
    from labeltool.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["models", *map(str, args), "--json"]) == 0
    return json.loads(out.getvalue())


# ---- honest validation ---------------------------------------------------------------------------
def test_dataset_without_valid_txt_gets_validation_figures_in_the_card(tmp_path):
    root = make_dataset(tmp_path / "ds", count=6, valid=0)
    (root / "valid.txt").unlink()
    events = []
    path = train_dataset(root, TrainConfig(**TINY, epochs=1), on_event=events.append)
    card = read_card(path)
    held = card["validation"]["images"]
    assert card["validation"]["source"] == "automatic hold-out" and len(held) == 1
    assert not set(held) & set(card["training_images"]) and len(card["training_images"]) == 5
    metrics = card["validation"]["metrics"]
    assert 0 <= metrics["pixel_accuracy"] <= 1 and metrics["miou"] is not None
    assert set(metrics["per_class_iou"]) == {"Background", "Square", "Disc"}  # Void is not scored
    assert any("held out" in e.get("message", "") for e in events if e["event"] == "notice")
    done = events[-1]
    assert done["event"] == "done" and done["promoted"] and done["validation_images"] == 1
    # the same images stay held out for the next retrains (every model is scored on images it never saw)
    assert registry.read_registry(root / "models")["holdout"] == held


def test_holdout_takes_whole_sequences_and_keeps_them():
    names = [f"seqA_{i:03d}" for i in range(10)] + [f"seqB_{i:03d}" for i in range(3)] + \
            [f"seqC_{i:03d}" for i in range(8)]
    train, held, note = choose_holdout(names)
    groups = {n.split("_")[0] for n in held}
    assert held and not set(train) & set(held)
    for g in groups:  # a held-out sequence is held out whole
        assert all(n in held for n in names if n.startswith(g + "_"))
    assert "whole sequences" in note
    more = names + ["seqB_100", "seqD_000"]
    train2, held2, _ = choose_holdout(more, previous=held)
    assert set(held) <= set(held2) and not set(held2) & set(train2)
    assert ("seqB_100" in held2) == ("seqB" in groups)  # a new frame of a held-out sequence joins it
    # too few corrected images: nothing held out, and the user is told
    train3, held3, note3 = choose_holdout(["a", "b", "c"])
    assert held3 == [] and "too few" in note3
    # images the active model trained on are not held out when others can be
    _, held4, _ = choose_holdout([f"x{i}" for i in range(10)], seen=[f"x{i}" for i in range(8)])
    assert set(held4) <= {"x8", "x9"}


def test_holdout_follows_the_projects_sequence_setting():
    """The hold-out reads the same sequence setting as split and propagation: a custom pattern holds out whole
    sites; an empty setting (independent photos) lets any single photo be held out."""
    names = [f"site{s}-cam{c}-{i:02d}" for s in range(4) for c in range(2) for i in range(3)]
    _, held, _ = choose_holdout(names, group_regex=r"^(site\d+)")
    sites = {n.split("-")[0] for n in held}
    assert held and all(n in held for n in names if n.split("-")[0] in sites)  # whole sites, both cameras
    photos = [f"IMG_{i:04d}" for i in range(10)]
    assert "last 2 frames of IMG" in choose_holdout(photos)[2]  # the default pattern: one video
    _, held_photos, note = choose_holdout(photos, group_regex=None)
    assert len(held_photos) == 2 and "frames" not in note  # two independent photos


# ---- the promotion gate --------------------------------------------------------------------------
def test_spoiled_retrain_is_not_promoted_and_proposals_stay_with_the_better_model(tmp_path):
    from model.inference.predict import Predictor
    from model.inference.propose import propose_dataset
    from model.registry.registry import resolve_model_path

    root = make_dataset(tmp_path / "ds", count=8, valid=2)
    (root / "labels" / "img07_P.png").unlink()  # an image left to propose
    good = train_dataset(root, TrainConfig(**TINY, epochs=6, lr=1e-2, init="fresh"))
    assert read_card(good)["gate"]["promoted"]
    # spoil the corrections of the training images: every class swapped for another
    swap = np.array([2, 0, 1, 3], dtype=np.uint8)
    for i in range(2, 7):
        label = root / "labels" / f"img{i:02d}_P.png"
        spoiled = swap[np.asarray(Image.open(label))]
        Image.fromarray(spoiled).save(label)
    events = []
    bad = train_dataset(root, TrainConfig(**TINY, epochs=4, lr=1e-2), on_event=events.append)  # fine-tunes good
    card = read_card(bad)
    gate = card["gate"]
    assert gate["promoted"] is False and gate["active"]["name"] == good.name
    assert gate["new"]["miou"] < gate["active"]["miou"] - MIOU_TOLERANCE
    assert events[-1]["promoted"] is False and events[-1]["active"] == good.name
    assert any("NOT promoted" in e.get("message", "") for e in events)
    assert registry.active_model(root / "models") == good
    # proposals come from the better model
    project = Project.open(root)
    assert resolve_model_path(project) == good
    written = propose_dataset(project, names=["img07"])
    assert written == ["img07"]
    image = np.asarray(Image.open(project.image_path("img07")).convert("RGB"))
    expected = Predictor(load_model(good)).predict_many([image])[0].mask
    assert np.array_equal(project.load_mask("img07"), expected)
    # and the user can still promote the rejected model by hand
    registry.promote(root / "models", bad.name)
    assert resolve_model_path(Project.open(root)) == bad
    assert registry.roll_back(root / "models") == good


# ---- kept models ---------------------------------------------------------------------------------
def test_pinned_active_and_best_models_survive_pruning(tmp_path):
    models = tmp_path / "models"
    pinned = _fake_model(models, miou=0.1)
    best = _fake_model(models, miou=0.9)
    registry.pin(models, pinned.name)
    active = _fake_model(models, miou=0.2)
    registry.promote(models, active.name)
    newer = [_fake_model(models, miou=0.3) for _ in range(KEEP_MODELS + 2)]
    registry.prune_models(models, KEEP_MODELS)  # what record_trained does after a retrain
    kept = {p.name for p in list_models(models)}
    assert {pinned.name, best.name, active.name} <= kept
    assert kept == {pinned.name, best.name, active.name} | {p.name for p in newer[-KEEP_MODELS:]}
    with pytest.raises(Exception, match="active model"):
        registry.delete(models, active.name)
    with pytest.raises(Exception, match="pinned"):
        registry.delete(models, pinned.name)
    registry.pin(models, pinned.name, pinned=False)
    registry.delete(models, pinned.name)
    assert not pinned.exists() and not pinned.with_suffix(".json").exists()


# ---- labeltool models ----------------------------------------------------------------------------
def test_models_json_lists_what_the_panel_shows(tmp_path, qtbot):
    from labeltool.gui.models_panel import ModelsPanel

    root = make_dataset(tmp_path / "ds", count=4, valid=1)
    first = _fake_model(root / "models", miou=0.4)
    second = _fake_model(root / "models", miou=0.6, names=("img00", "img01"))
    doc = _cli_json(root)
    assert [m["name"] for m in doc["models"]] == [second.name, first.name]  # newest first
    assert doc["active"] == second.name and doc["models"][0]["training_images"] == 2
    assert doc["models"][0]["miou"] == 0.6 and doc["models"][0]["best"]
    doc = _cli_json(root, "--promote", first.stem)
    assert doc["active"] == first.name
    doc = _cli_json(root, "--pin", second.name)
    assert [m["pinned"] for m in doc["models"]] == [True, False]
    panel = ModelsPanel()
    qtbot.addWidget(panel)
    panel.set_dataset(root)
    assert panel.rows() == doc["models"]
    shown = [[panel.table.item(r, c).text() for c in range(panel.table.columnCount())]
             for r in range(panel.table.rowCount())]
    assert [row[0] for row in shown] == [second.stem, first.stem]
    assert "active" in shown[1][-1] and "pinned" in shown[0][-1] and "0.600" in shown[0]


# ---- one trainer per dataset ---------------------------------------------------------------------
def test_second_trainer_of_a_dataset_is_refused_naming_the_first(tmp_path):
    root = make_dataset(tmp_path / "ds")
    with train_lock(root / "models", by="the labeltool app"):
        with pytest.raises(TrainingLocked, match=r"already being trained by the labeltool app \(pid \d+"):
            train_dataset(root, TrainConfig(**TINY, epochs=1))
    assert list_models(root / "models") == []


def test_terminal_bar_counts_to_the_planned_epochs_not_the_cap():
    out = io.StringIO()
    show = ConsoleProgress(out)
    show({"event": "start", "epochs": 400, "time_budget": 60, "steps_per_epoch": 2, "images": 4, "device": "cpu"})
    show({"event": "step", "epoch": 1, "step": 1, "steps": 2, "loss": 1.0, "epochs": None})
    show({"event": "step", "epoch": 1, "step": 2, "steps": 2, "loss": 0.9, "epochs": 15})
    show({"event": "epoch_end", "epoch": 1, "epochs": 15, "train_loss": 0.9, "metrics": {}})
    show({"event": "step", "epoch": 2, "step": 1, "steps": 2, "loss": 0.8, "epochs": 15})
    text = out.getvalue()
    assert "/400" not in text and "epoch 1/15" in text and "epoch 2/15" in text


def test_second_holdout_of_a_one_sequence_project_leaves_images_to_train_on():
    """Found by the session benchmark: holding out the whole sequence of the previous hold-out left nothing."""
    names = [f"0001TP_{i:06d}" for i in range(0, 300, 30)]
    train, held, _ = choose_holdout(names)
    assert train and held
    train2, held2, note2 = choose_holdout(names + ["0001TP_000301", "0001TP_000302"], previous=held)
    assert set(held) <= set(held2) and len(train2) >= MIN_TRAIN_IMAGES
    assert "whole sequences" not in note2

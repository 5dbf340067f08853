"""Pseudo-labels of unlabelled images (model.training.semisup): only confident pixels are kept, corrected masks and
labels/ are never touched, and the option and what it did are in the model card."""

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch
from _train_data import make_dataset
from PIL import Image

from model.nets import normalization as nz
from model.nets.config import ConfigError, TrainConfig
from model.project.project import Project
from model.registry.modelfile import load_model
from model.training.defaults import DEFAULT_PSEUDO_LABELS
from model.training.semisup import Mixed, SelfTraining, pseudo_label, spread, unlabelled_names
from model.training.train import train_dataset

TINY = dict(arch="Unet", encoder="resnet18", encoder_weights=None, size=[64, 64], scale=1.0, batch_size=2, threads=2,
            checkpoint_every=0)
VOID = 3


class Halves(torch.nn.Module):
    """Left half: class 1 with softmax ~0.99; right half: class 2 at ~0.6; top row: Void, sure."""

    def forward(self, x):
        b, _, h, w = x.shape
        logits = torch.zeros(b, 4, h, w)
        logits[:, 1, :, : w // 2] = 6.0
        logits[:, 2, :, w // 2:] = 1.2
        logits[:, VOID, 0, :] = 20.0
        return logits


def _project_with_unlabelled(tmp_path, extra: int = 3) -> Project:
    root = make_dataset(tmp_path / "ds", count=6, valid=2)
    for i in range(extra):  # frames nobody has labelled: images without a mask
        shutil.copy(root / "images" / f"img{i:02d}.png", root / "images" / f"new{i:02d}.png")
    return Project.open(root)


def _labels_digest(root) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "labels").iterdir())}


def test_only_pixels_at_or_above_the_threshold_are_kept_and_void_is_ignored(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.full((32, 64, 3), 120, np.uint8)).save(path)
    labels = pseudo_label(Halves(), [path], ["a"], nz.imagenet(), 1.0, threshold=0.9, ignore_index=VOID, flip=False)
    mask = labels.masks[0]
    assert mask.shape == (32, 64)
    assert (mask[1:, :32] == 1).all()            # confident: kept
    assert (mask[1:, 32:] == VOID).all()         # 0.6 < 0.9: ignored by the loss
    assert (mask[0] == VOID).all()               # predicted Void: never a target
    assert labels.kept == 31 * 32 and labels.pixels == 32 * 64
    low = pseudo_label(Halves(), [path], ["a"], nz.imagenet(), 1.0, threshold=0.5, ignore_index=VOID, flip=False)
    assert (low.masks[0][1:, 32:] == 2).all()    # a lower threshold keeps the unsure half too


def test_unlabelled_images_exclude_corrected_valid_and_test(tmp_path):
    project = _project_with_unlabelled(tmp_path)
    (project.root / "test.txt").write_text("new02.png\n")
    project = Project.open(project.root)
    names = unlabelled_names(project)
    assert names == ["new00", "new01"]
    assert spread([str(i) for i in range(10)], 3) == ["0", "4", "9"]


def test_self_training_writes_nothing_and_leaves_corrected_masks_alone(tmp_path):
    project = _project_with_unlabelled(tmp_path)
    before = _labels_digest(project.root)
    files_before = sorted(p.relative_to(project.root) for p in project.root.rglob("*") if p.is_file())
    cfg = TrainConfig(**TINY, pseudo_labels="confident", pseudo_threshold=0.0, epochs=2)
    train_names, val_names = project.training_names()
    notes = []
    st = SelfTraining(project, cfg, train_names, val_names, nz.imagenet(), VOID, notes.append)
    assert st.names == ["new00", "new01", "new02"]
    assert st.due(1, 2, 0.0) and not st.due(2, 2, 0.0)  # halfway, never after the last epoch
    corrected = [0, 1]
    mixed = st.run(Halves(), corrected, "cpu", 1)
    assert isinstance(mixed, Mixed) and len(mixed) == len(corrected)
    assert not st.pending and st.summary["images"] == 3 and "3 of 3 unlabelled" in notes[-1]["message"]
    assert _labels_digest(project.root) == before
    files_after = sorted(p.relative_to(project.root) for p in project.root.rglob("*") if p.is_file())
    assert [f for f in files_after if f not in files_before and f.parts[0] != ".labeltool"] == []


def test_mixed_draws_pseudo_samples_at_the_share():
    torch.manual_seed(0)
    mixed = Mixed(["c"] * 10, ["p"], 0.5)
    draws = [mixed[i % 10] for i in range(2000)]
    assert 0.45 < draws.count("p") / len(draws) < 0.55
    assert Mixed(["c"] * 4, [], 0.5)[0] == "c"


def test_retrain_with_pseudo_labels_records_them_in_the_card(tmp_path):
    project = _project_with_unlabelled(tmp_path)
    before = _labels_digest(project.root)
    events = []
    path = train_dataset(project.root, TrainConfig(**TINY, epochs=2, pseudo_labels="confident", pseudo_threshold=0.5),
                         on_event=events.append)
    card = load_model(path).card
    assert card["training"]["config"]["pseudo_labels"] == "confident"
    summary = card["training"]["pseudo_labels"]
    assert summary["images"] == 3 and summary["after_epoch"] == 1 and summary["threshold"] == 0.5
    assert any("pseudo-labels:" in e.get("message", "") for e in events if e["event"] == "notice")
    assert _labels_digest(project.root) == before  # no pseudo-label ever reaches labels/
    assert json.dumps(card)  # the card stays plain JSON


def test_the_one_click_default_is_recorded_in_the_config(tmp_path):
    from model.training.defaults import Hardware, resolve_config

    cfg, _, _ = resolve_config(None, num_images=25, image_wh=(480, 360), hw=Hardware("cpu", 2),
                               models_dir=tmp_path / "models", codes=["a", "b"])
    assert cfg.pseudo_labels == DEFAULT_PSEUDO_LABELS
    assert TrainConfig.from_dict(cfg.to_dict()).pseudo_labels == DEFAULT_PSEUDO_LABELS  # the card's copy reloads


def test_bad_pseudo_label_options_name_the_option():
    with pytest.raises(ConfigError, match="pseudo_labels"):
        TrainConfig.from_dict({"pseudo_labels": "always"})
    with pytest.raises(ConfigError, match="pseudo_threshold"):
        TrainConfig.from_dict({"pseudo_threshold": 1.5})

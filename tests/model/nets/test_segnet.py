"""SegNet (VGG16-BN encoder, max-pooling indices to the decoder) in the architecture registry."""

import pytest
import torch
from _train_data import CODES, make_dataset

from model.nets.config import TrainConfig
from model.nets.networks import make_net
from model.registry.modelfile import load_model
from model.training.train import train_dataset


def test_segnet_trains_offline_from_random_weights_with_one_notice_and_loads_back(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELTOOL_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = make_dataset(tmp_path / "ds", count=4, valid=1)
    events = []
    cfg = TrainConfig(arch="SegNet", size=[64, 64], scale=1.0, batch_size=2, threads=1, epochs=1, augment=False,
                      checkpoint_every=1e6)  # encoder: the default for SegNet; weights: ImageNet if it can
    path = train_dataset(root, cfg, on_event=events.append)
    notices = [e["message"] for e in events if e["event"] == "notice" and "ImageNet" in e["message"]]
    assert notices == ["ImageNet weights for vgg16_bn unavailable offline; using random initialisation"]
    loaded = load_model(path)
    assert loaded.card["arch"] == "SegNet" and loaded.card["encoder"] == "vgg16_bn"
    with torch.no_grad():
        logits = loaded.net(torch.rand(1, 3, 45, 70))  # any size: unpooling follows the pooled sizes
    assert logits.shape == (1, len(CODES), 45, 70)


def test_segnet_refuses_another_encoder():
    with pytest.raises(ValueError, match="vgg16_bn"):
        make_net("SegNet", "resnet18", 4)

"""model.inference.prefetch: the next images are proposed in the background; corrections and the open image are safe."""

from __future__ import annotations

import pytest
import torch

from model.inference.prefetch import Prefetcher
from model.nets.networks import make_net, normalization
from model.project.project import Project
from model.registry.modelfile import make_card, save_model
from tests._train_data import CODES, make_dataset


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELTOOL_RUNTIME", "torch")  # no ONNX timing here: tests/test_runtime.py covers it
    root = make_dataset(tmp_path / "ds", count=6, size=64)
    for name in ("img01", "img02", "img03", "img05"):  # no mask: these need proposals
        (root / "labels" / f"{name}_P.png").unlink()
    torch.manual_seed(0)
    card = make_card(arch="Unet", encoder="resnet18", classes=CODES, void_index=3, normalization=normalization(),
                     input_size=[64, 64], training_images=["img00"])
    save_model(root / "models", make_net("Unet", "resnet18", len(CODES)), card)
    return Project.open(root)


def test_the_next_images_get_proposals_in_the_background(project):
    ready = []
    prefetcher = Prefetcher(project, ahead=2, on_ready=ready.append)
    try:
        order = project.names()
        assert prefetcher.schedule(order, current="img00") == ["img01", "img02"]
        assert prefetcher.wait_idle(120)
    finally:
        prefetcher.close()
    assert sorted(ready) == ["img01", "img02"]
    assert project.status("img01") == "proposed" and project.status("img02") == "proposed"
    assert project.status("img03") == "none"  # beyond the window
    assert project.status("img04") == "corrected"


def test_corrected_images_and_the_open_image_are_left_alone(project):
    project.hold("img02")  # open in an editor (maybe another process)
    prefetcher = Prefetcher(project, ahead=3)
    try:
        order = project.names()
        # img04 is corrected: skipped in the plan; img02 is held: the proposal is refused on save
        assert prefetcher.schedule(order, current="img01") == ["img02", "img03", "img05"]
        assert prefetcher.wait_idle(120)
    finally:
        prefetcher.close()
        project.release("img02")
    assert project.status("img02") == "none"
    assert project.status("img03") == "proposed" and project.status("img05") == "proposed"
    assert project.status("img04") == "corrected"
    assert prefetcher.proposed == ["img03", "img05"]
    # proposed by this model already: nothing left to do
    assert Prefetcher.plan(prefetcher, project.names(), current="img02") == []

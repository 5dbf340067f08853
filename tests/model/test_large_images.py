"""Large images at their real resolution: full-size proposals by tiling in bounded memory, the working
scale from a pixel budget (or the project setting), one scale/pad path, superpixels at full resolution."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from labeltool.editing.regions import TiledSuperpixels, compute_superpixels, superpixels_async
from model.inference.predict import Predictor
from model.nets.networks import ScaledInput
from model.nets.tiling import TileConfig, run_scaled
from model.training.defaults import Hardware, default_scale, project_working_scale, resolve_config, working_scale

CPU = Hardware("cpu", 2)
GPU = Hardware("cuda", 8, 80 << 30)


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakRss:
    """Peak resident memory above the level at entry, sampled every 5 ms."""

    def __enter__(self):
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def delta(self) -> int:
        return self.peak - self.base


def _tiny_net(classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, classes, 1))


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to measure memory")
def test_4000x3000_photo_is_proposed_at_full_resolution_in_bounded_memory():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    predictor = Predictor(_tiny_net(), device="cpu", fuse_bn=False)  # default tiling
    assert predictor._tile_config(3000, 4000) is not None  # 12 MP is over the default budget: tiled
    with _PeakRss() as mem:
        pred = predictor.predict(image)
    assert pred.mask.shape == (3000, 4000) and pred.confidence.shape == (3000, 4000)
    # outputs (mask 12 MB + confidence 48 MB) plus a band of tiles; C x H x W probabilities alone
    # would be 144 MB and the network's activations over the whole photo several hundred more
    assert mem.delta < 300 << 20, f"peak memory grew by {mem.delta >> 20} MB"


def test_tiled_and_whole_predictions_agree_away_from_seams():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)
    net = _tiny_net()
    whole = Predictor(net, device="cpu", tile=False).predict(image)
    tiled = Predictor(net, device="cpu", tile=TileConfig(size=128, overlap=32, max_pixels=10_000)).predict(image)
    assert np.mean(whole.mask == tiled.mask) > 0.995


def test_working_scale_comes_from_a_pixel_budget_not_a_long_side_cap():
    assert default_scale((480, 360), CPU) == 0.5  # CamVid on CPU as before
    assert default_scale((4000, 3000), GPU) == 1.0  # was 0.256 with the 1024 px cap
    cpu_12mp = default_scale((4000, 3000), CPU)
    assert 0.35 < cpu_12mp < 0.5 and cpu_12mp > 1024 / 4000
    assert 0.15 < default_scale((8660, 5773), CPU) < 0.25  # 50 MP


def test_project_working_scale_setting_wins_over_default(tmp_path):
    class Settings:
        root = tmp_path

        def __init__(self, value):
            self.value = value

        def get_setting(self, key, default=None):
            return self.value if key == "working_scale" else default

    assert project_working_scale(object()) is None  # a project without settings yet
    assert project_working_scale(Settings(0.75)) == 0.75
    assert working_scale(Settings(None), (4000, 3000), CPU) == (default_scale((4000, 3000), CPU),
                                                                "default: 2.0 MP per image on CPU")
    assert working_scale(Settings(0.75), (4000, 3000), CPU) == (0.75, "project setting")
    with pytest.raises(ValueError, match="working_scale"):
        project_working_scale(Settings(12))
    cfg, _, _ = resolve_config(None, num_images=3, image_wh=(4000, 3000), hw=CPU, models_dir=tmp_path / "m",
                               codes=["a", "b"], working_scale=0.75)
    assert cfg.scale == 0.75


def test_one_scale_pad_path_reflects_and_matches_the_loaded_model_wrapper():
    torch.manual_seed(0)
    net = _tiny_net()
    x = torch.randn(1, 3, 50, 70)
    seen = []

    def spy(t):
        seen.append(t)
        return net(t)

    logits = run_scaled(spy, x, 0.7)
    assert logits.shape == (1, 3, 50, 70)
    padded = seen[0]
    assert padded.shape[-2:] == (64, 64)  # 35x49 scaled, reflect-padded to multiples of 32
    assert torch.equal(padded[..., 35, :], padded[..., 33, :])  # reflect, not zeros
    assert torch.equal(padded[..., :49, 49], padded[..., :49, 47])
    assert torch.allclose(ScaledInput(net, 0.7)(x), logits)
    probs = Predictor(net, {"input_scale": 0.7}, device="cpu", fuse_bn=False).probabilities(
        [np.zeros((45, 70, 3), np.uint8)])
    assert probs.shape == (1, 3, 45, 70)


def _edge_image(h, w, edge_x):
    rng = np.random.default_rng(2)
    image = np.full((h, w, 3), 40, np.uint8)
    image[:, edge_x:] = 210
    return (image.astype(np.int16) + rng.integers(-6, 7, image.shape)).clip(0, 255).astype(np.uint8)


def test_superpixels_on_a_large_image_follow_edges_at_full_resolution():
    h, w, edge = 1000, 1200, 701  # 1.2 MP: tiled; the edge is on no stride or tile border
    image = _edge_image(h, w, edge)
    future = superpixels_async(image)
    sp = future.result(timeout=5)  # at once: tiles are computed when first used
    assert isinstance(sp, TiledSuperpixels) and sp.labels.shape == (h, w)
    for y, x in ((500, edge - 2), (480, edge + 1), (20, 690)):
        bbox, region = sp.region(y, x)
        ys, xs = np.nonzero(region)
        xs = xs + bbox[1]
        side = x >= edge
        assert np.all((xs >= edge) == side), "a superpixel crosses the edge"
    sp.cancelled = True


def test_small_images_keep_one_slic_run():
    image = _edge_image(120, 160, 81)
    sp = compute_superpixels(image, n_segments=40)
    assert not isinstance(sp, TiledSuperpixels) and sp.labels.min() >= 1 and sp.complete
    bbox, region = sp.region(60, 79)
    assert np.all(np.nonzero(region)[1] + bbox[1] < 81)


def test_training_validation_and_evaluate_score_the_same_way(tmp_path):
    """Scaled size 45x45 is no multiple of 32: before, validation padded with zeros and evaluate
    reflected, so the figures differed. Both go through the Predictor now."""
    from _train_data import make_dataset

    from model.evaluation.evaluate import evaluate_project
    from model.nets.config import TrainConfig
    from model.project.project import Project
    from model.registry.modelfile import load_model
    from model.training.train import train_dataset

    root = make_dataset(tmp_path / "ds", count=5, size=64, valid=2)
    cfg = TrainConfig(arch="Unet", encoder="resnet18", encoder_weights=None, size=[32, 32], scale=0.7, batch_size=2,
                      threads=2, checkpoint_every=0, epochs=2)
    path = train_dataset(root, cfg)
    card = load_model(path).card
    result = evaluate_project(Project.open(root), "valid", path, device="cpu", save=False)
    assert card["input_scale"] == 0.7
    last_epoch = card["training"]["history"][-1]  # what training's own validation measured
    assert result["pixel_accuracy"] == pytest.approx(last_epoch["pixel_accuracy"], abs=1e-3)  # zero padding: 3e-3 off


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to measure memory")
def test_a_photo_at_the_default_working_scale_never_holds_full_size_class_scores():
    """Issue 18: at the CPU default scale a 12 MP photo is not tiled; the logits were resized to full size and
    softmax and entropy each made another K x H x W float tensor (4 GB at 12 MP). 3 MP and 12 classes here:
    one such tensor is 144 MB; the banded path holds the planes, the working-scale logits and a band."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    scale = default_scale((2000, 1500), CPU)
    assert scale < 1.0
    predictor = Predictor(_tiny_net(classes=12), {"input_scale": scale}, device="cpu", fuse_bn=False)
    assert predictor._tile_config(1500, 2000) is None  # the untiled path, as for a photo at the default scale
    predictor.predict(image[:64, :64])  # warm up the allocator and torch's kernels
    with _PeakRss() as mem:
        pred = predictor.predict(image)
    assert pred.mask.shape == (1500, 2000) and pred.stats is not None
    assert 0.0 < pred.stats["mean_confidence"] <= 1.0
    # measured: 470 MB at the parent commit (full-size logits, softmax, entropy), 122 MB now
    assert mem.delta < 250 << 20, f"peak memory grew by {mem.delta >> 20} MB"


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to measure memory")
def test_proposing_a_20_mp_photo_at_the_default_scale_holds_the_photo_once_and_no_float_plane(tmp_path):
    """Issue 18: `labeltool predict` on a 50 MP photo at the CPU default scale stays under 1.5e9 bytes
    (benchmarks/bench_memory.py). Here the same path in-process (read the JPEG, predict, write mask and
    confidence) at 20 MP: the photo is read without Pillow's doubled byte copy, dropped once it is the
    network's input, and the confidence plane is made as stored (uint8), not float32."""
    from PIL import Image

    from model.inference.propose import propose_dataset
    from model.project.project import Project

    h, w = 3873, 5164
    codes = [f"c{i}" for i in range(12)]
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "codes.txt").write_text("\n".join(codes) + "\n")
    ramp = np.arange(h, dtype=np.uint8)[:, None] + np.arange(w, dtype=np.uint8)[None, :]
    Image.fromarray(np.stack([ramp, ramp * 2, ramp // 2], axis=2)).save(tmp_path / "images" / "photo.jpg", quality=90)
    del ramp
    scale = default_scale((w, h), CPU)
    predictor = Predictor(_tiny_net(classes=12), {"input_scale": scale, "classes": codes}, device="cpu",
                          fuse_bn=False, quantised_confidence=True)
    predictor.predict(np.zeros((64, 64, 3), np.uint8))  # warm up the allocator and torch's kernels
    project = Project.open(tmp_path)
    with _PeakRss() as mem:
        assert propose_dataset(project, predictor=predictor, neighbours="off") == ["photo"]
    assert project.status("photo") == "proposed"
    # measured: 280 MB at the parent commit (the photo held while its float32 confidence was made), 191 MB now:
    # Pillow's decoded photo (80 MB) and the array (60 MB), or the working-scale logits (96 MB) and the planes
    assert mem.delta < 235 << 20, f"peak memory grew by {mem.delta >> 20} MB"

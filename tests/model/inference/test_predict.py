"""Predictor: tiling matches direct prediction, big images work in tiles, flip TTA, confidence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from model.inference.predict import Predictor
from model.nets.tiling import TileConfig, blend_window, tile_starts

torch.set_num_threads(min(2, torch.get_num_threads()))


class PixelNet(nn.Module):
    """Per-pixel classifier (1x1 conv): each output pixel depends only on its own input pixel."""

    def __init__(self, classes: int = 5, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(3, classes, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 3)
            self.conv.bias.copy_(torch.randn(classes, generator=g))

    def forward(self, x):
        return self.conv(x)


class LocalNet(nn.Module):
    """Two 3x3 convs: a small receptive field, and not left-right symmetric."""

    def __init__(self, classes: int = 4, seed: int = 1):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, classes, 3, padding=1))

    def forward(self, x):
        return self.body(x)


class ShapeSpy(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        return self.inner(x)


def _image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    # smooth-ish content so classes form regions, plus noise
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), ((xx + yy) * 7) % 256], axis=-1)
    noise = rng.integers(-40, 40, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def test_tile_starts_cover_and_end_at_border():
    assert tile_starts(100, 128, 32) == [0]
    starts = tile_starts(1500, 512, 128)
    assert starts[0] == 0 and starts[-1] + 512 == 1500
    assert all(b - a <= 512 - 128 for a, b in zip(starts, starts[1:], strict=False))
    w = blend_window(64, 64, 16, True, False, False, True)
    assert float(w.min()) > 0 and float(w.max()) == 1.0
    assert float(w[-1, 0]) == 1.0 and float(w[0, 32]) < 0.05 and float(w[32, -1]) < 0.05


def test_tiled_equals_direct_exactly_for_per_pixel_net():
    net = PixelNet()
    image = _image(200, 300)
    direct = Predictor(net, device="cpu", tile=False).predict(image)
    tiled = Predictor(net, device="cpu", tile=TileConfig(size=64, overlap=16, max_side=50)).predict(image)
    np.testing.assert_array_equal(tiled.mask, direct.mask)
    np.testing.assert_allclose(tiled.confidence, direct.confidence, atol=1e-5)
    assert len(np.unique(direct.mask)) > 1  # the comparison means something


def test_tiled_close_to_direct_for_conv_net():
    net = LocalNet()
    image = _image(160, 224, seed=3)  # a multiple of 32: the direct run is not padded either
    direct = Predictor(net, device="cpu", tile=False).predict(image)
    tiled = Predictor(net, device="cpu", tile=TileConfig(size=64, overlap=24, max_side=50)).predict(image)
    assert np.mean(tiled.mask == direct.mask) > 0.999
    assert np.abs(tiled.confidence - direct.confidence).mean() < 1e-3


def test_big_image_goes_through_bounded_tiles():
    spy = ShapeSpy(PixelNet(classes=3))
    image = _image(1500, 2000, seed=5)
    predictor = Predictor(spy, device="cpu", tile=TileConfig(size=512, overlap=64, max_side=1024, batch=2))
    mask, conf = predictor.predict_image(image)
    assert mask.shape == (1500, 2000) and mask.dtype == np.uint8
    assert conf.shape == (1500, 2000) and conf.dtype == np.float32
    assert len(spy.shapes) > 1
    assert all(s[0] <= 2 and s[2] <= 512 and s[3] <= 512 for s in spy.shapes)
    direct = Predictor(spy.inner, device="cpu", tile=False).predict(image)
    np.testing.assert_array_equal(mask, direct.mask)


def test_odd_sizes_are_padded_to_32_and_cropped_back():
    spy = ShapeSpy(LocalNet())
    mask, conf = Predictor(spy, device="cpu").predict_image(_image(37, 61))
    assert mask.shape == (37, 61) and conf.shape == (37, 61)
    assert spy.shapes[-1][2:] == (64, 64)


def test_flip_tta_is_symmetric_and_changes_the_result():
    net = LocalNet(seed=7)
    image = _image(64, 96, seed=2)
    tta = Predictor(net, device="cpu", tta_flip=True)
    a = tta.predict(image)
    b = tta.predict(image[:, ::-1].copy())
    np.testing.assert_allclose(b.confidence[:, ::-1], a.confidence, atol=1e-5)
    assert np.mean(b.mask[:, ::-1] == a.mask) > 0.999
    plain = Predictor(net, device="cpu").predict(image)
    assert np.abs(plain.confidence - a.confidence).max() > 1e-3


def test_confidence_in_unit_range_and_entropy():
    classes = 5
    p = Predictor(PixelNet(classes), device="cpu", with_entropy=True).predict(_image(40, 50))
    assert p.confidence.min() >= 1 / classes - 1e-6 and p.confidence.max() <= 1.0
    assert p.entropy is not None and p.entropy.min() >= -1e-6 and p.entropy.max() <= math.log(classes) + 1e-5
    # confident pixels have low entropy
    assert np.corrcoef(p.confidence.ravel(), p.entropy.ravel())[0, 1] < 0


def test_batch_matches_single_and_keeps_order_with_mixed_sizes():
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    net = smp.Unet("resnet18", encoder_weights=None, classes=3, encoder_depth=3, decoder_channels=(32, 16, 8))
    predictor = Predictor(net, {"normalization": {"mean": [123.7, 116.3, 103.5], "std": [58.4, 57.1, 57.4]}},
                          device="cpu", batch_size=2)
    images = [_image(64, 96, 0), _image(40, 40, 1), _image(64, 96, 2), _image(64, 96, 3)]
    batch = predictor.predict_batch(images)
    assert [m.shape for m, _ in batch] == [(64, 96), (40, 40), (64, 96), (64, 96)]
    for image, (mask, conf) in zip(images, batch, strict=True):
        single_mask, single_conf = predictor.predict_image(image)
        np.testing.assert_allclose(conf, single_conf, atol=1e-4)
        assert np.mean(mask == single_mask) > 0.999


def test_bad_inputs_raise_clear_errors():
    predictor = Predictor(PixelNet(), device="cpu")
    with pytest.raises(ValueError, match="shape"):
        predictor.predict(np.zeros((1, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="2 channels"):  # an old (RGB) model, a 2-band image
        predictor.predict(np.zeros((8, 8, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="normalization"):
        Predictor(PixelNet(), {"normalization": {"mean": [0.5]}}, device="cpu")
    grey = predictor.predict(np.full((8, 8), 128, dtype=np.uint8))
    assert grey.mask.shape == (8, 8)


def test_batchnorm_folding_keeps_predictions_and_leaves_the_callers_net_alone():
    import segmentation_models_pytorch as smp

    from model.nets.fuse import fold_batchnorm

    torch.manual_seed(0)
    net = smp.Unet("resnet18", encoder_weights=None, classes=3, encoder_depth=3, decoder_channels=(32, 16, 8))
    for m in net.modules():  # non-trivial running statistics, as after training
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    net.eval()
    folded, count = fold_batchnorm(net)
    bns = sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert count == bns and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    image = _image(64, 96, seed=4)
    fast = Predictor(net, device="cpu").predict(image)
    plain = Predictor(net, device="cpu", fuse_bn=False, channels_last=False).predict(image)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == bns  # caller's net untouched
    np.testing.assert_allclose(fast.confidence, plain.confidence, atol=1e-4)
    assert np.mean(fast.mask == plain.mask) > 0.999


def test_card_input_scale_runs_the_network_at_that_scale_and_returns_full_size():
    spy = ShapeSpy(PixelNet(classes=3))
    predictor = Predictor(spy, {"input_scale": 0.5}, device="cpu")
    image = _image(128, 192, seed=6)
    mask, conf = predictor.predict_image(image)
    assert mask.shape == (128, 192) and conf.shape == (128, 192)
    assert spy.shapes[-1][2:] == (64, 96)
    full = Predictor(spy.inner, device="cpu").predict(image)
    assert np.mean(mask == full.mask) > 0.8  # same classifier, seen at half resolution
    # big images are tiled in image pixels so the network still sees tiles of the configured size
    spy.shapes.clear()
    tiled = Predictor(spy, {"input_scale": 0.5}, device="cpu", tile=TileConfig(size=64, overlap=16, max_side=64))
    mask, _ = tiled.predict_image(_image(300, 400, seed=7))
    assert mask.shape == (300, 400)
    assert len(spy.shapes) > 1 and all(s[2] <= 64 and s[3] <= 64 for s in spy.shapes)


def test_quantised_confidence_is_what_the_png_stores_and_release_drops_the_callers_photos(tmp_path):
    """The proposal path makes the confidence plane as stored (uint8) band by band: the class plane and the written
    confidence map are those of the float path, at the default scale and tiled; ``release`` empties the list."""
    from model.project.confidence import quantise_confidence, read_confidence, write_confidence

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 5, 1))
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (190, 250, 3), dtype=np.uint8)
    for tile in (None, TileConfig(size=64, overlap=16, max_pixels=4000)):
        exact = Predictor(net, {"input_scale": 0.6}, device="cpu", tile=tile, fuse_bn=False).predict(image)
        quantised = Predictor(net, {"input_scale": 0.6}, device="cpu", tile=tile, fuse_bn=False,
                              quantised_confidence=True)
        images = [image, image[:, ::-1].copy()]
        got = quantised.predict_many(images, release=True)
        assert images == []  # the caller's list: the photos are the Predictor's to drop
        assert got[0].confidence.dtype == np.uint8
        assert np.array_equal(got[0].mask, exact.mask)
        assert np.array_equal(got[0].confidence, quantise_confidence(exact.confidence))
        assert got[0].stats == exact.stats  # the figures still come from the float values
        write_confidence(tmp_path / "q.png", got[0].confidence)
        write_confidence(tmp_path / "f.png", exact.confidence)
        assert np.array_equal(read_confidence(tmp_path / "q.png"), read_confidence(tmp_path / "f.png"))

"""A model trained at input_scale != 1 is scaled once, not twice, when predicting."""

import numpy as np
import segmentation_models_pytorch as smp
import torch

from model.inference.predict import Predictor
from model.nets.networks import ScaledInput

CARD = {"input_scale": 0.5, "classes": ["a", "b", "c"], "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3}}


def test_a_loaded_scaled_model_predicts_like_the_bare_network_at_that_scale():
    torch.manual_seed(0)
    net = smp.Unet("resnet18", encoder_weights=None, classes=3, encoder_depth=3,
                   decoder_channels=(32, 16, 8)).eval()
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    bare = Predictor(net, CARD, device="cpu", fuse_bn=False).predict(image)
    wrapped = Predictor(ScaledInput(net, 0.5), CARD, device="cpu", fuse_bn=False).predict(image)
    assert bare.mask.shape == (96, 128)
    np.testing.assert_array_equal(wrapped.mask, bare.mask)
    np.testing.assert_allclose(wrapped.confidence, bare.confidence, atol=1e-5)
    twice = Predictor(ScaledInput(net, 0.5), {**CARD, "input_scale": 1.0}, device="cpu", fuse_bn=False,
                      scale=0.25).predict(image)
    assert (twice.mask != bare.mask).mean() > 0.01  # what scaling twice would have looked like

"""Tiny projects and deterministic models for the predict/propose/evaluate tests (no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

CODES = ["Red", "Green", "Blue", "Void"]
RGB = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
IDENTITY_NORM = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
H, W = 32, 32


class ColourNet(nn.Module):
    """Predicts the dominant colour channel: red -> 0, green -> 1, blue -> 2; never Void."""

    def forward(self, x):
        void = torch.full_like(x[:, :1], -100.0)
        return torch.cat([x * 10.0, void], dim=1)


def eval_case_image() -> tuple[np.ndarray, np.ndarray]:
    """Left half red, right half blue. Truth: left Red; right: rows 0-7 Void, rows 8-15 Green (the
    model will say Blue), rows 16-31 Blue."""
    image = np.zeros((H, W, 3), np.uint8)
    image[:, : W // 2] = RGB[0]
    image[:, W // 2:] = RGB[2]
    mask = np.zeros((H, W), np.uint8)
    mask[:, W // 2:] = 2
    mask[:8, W // 2:] = 3
    mask[8:16, W // 2:] = 1
    return image, mask


def make_project(root: Path, count: int = 5, labelled: tuple[int, ...] = (0, 1), valid: tuple[int, ...] = (0, 3),
                 test: tuple[int, ...] | None = None, codes: list[str] | None = None) -> Path:
    """img00..: img00 is the evaluation case; others random colour blocks. ``labelled`` images get
    their truth mask (counted as corrected when the project is first opened)."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    (root / "codes.txt").write_text("\n".join(codes or CODES) + "\n")
    for i in range(count):
        if i == 0:
            image, mask = eval_case_image()
        else:
            mask = np.kron(rng.integers(0, 3, size=(4, 4)), np.ones((H // 4, W // 4), np.int64)).astype(np.uint8)
            image = RGB[mask]
        name = f"img{i:02d}"
        Image.fromarray(image).save(root / "images" / f"{name}.png")
        if i in labelled:
            Image.fromarray(mask, mode="L").save(root / "labels" / f"{name}_P.png")
    (root / "valid.txt").write_text("".join(f"img{i:02d}.png\n" for i in valid))
    if test is not None:
        (root / "test.txt").write_text("".join(f"img{i:02d}\n" for i in test))
    return root


def save_constant_model(models_dir: Path, classes: list[str], winner: int) -> Path:
    """A real model file (smp Unet/resnet18 via the training engineer's save_model) whose head always
    picks class ``winner``."""
    from model.nets.networks import make_net
    from model.registry.modelfile import make_card, save_model

    torch.manual_seed(0)
    net = make_net("Unet", "resnet18", len(classes))
    head = net.segmentation_head[0]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[winner] = 5.0
    card = make_card(arch="Unet", encoder="resnet18", classes=classes, void_index=classes.index("Void"),
                     normalization={"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
                     input_size=[H, W], training_images=["img01"])
    return save_model(models_dir, net, card)

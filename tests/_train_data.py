"""Tiny generated datasets in the CamVid layout for the training tests (no network, no real data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

CODES = ["Background", "Square", "Disc", "Void"]
COLOURS = np.array([[40, 60, 200], [220, 40, 40], [40, 200, 60], [0, 0, 0]], dtype=np.uint8)


REPO = Path(__file__).resolve().parents[1]
TINY = dict(arch="Unet", encoder="resnet18", encoder_weights=None, size=[64, 64], scale=1.0, batch_size=2, threads=2,
            checkpoint_every=0)  # the smallest training run the tests make


def train_env() -> dict[str, str]:
    """The environment of a training child in the tests: one thread, offline, this checkout's code."""
    env = dict(os.environ, OMP_NUM_THREADS="1", LABELTOOL_OFFLINE="1", HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = str(REPO)
    return env


def make_dataset(root: Path, count: int = 6, size: int = 64, valid: int = 2, seed: int = 0) -> Path:
    """``count`` images with a square and a disc; the pixel colour encodes the class exactly."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    (root / "codes.txt").write_text("\n".join(CODES) + "\n")
    names = []
    for i in range(count):
        mask = np.zeros((size, size), np.uint8)
        x, y, s = rng.integers(4, size // 2, 3)
        s = max(8, s // 2)
        mask[y:y + s, x:x + s] = 1
        yy, xx = np.mgrid[:size, :size]
        cx, cy, r = rng.integers(size // 3, size - 8), rng.integers(size // 3, size - 8), rng.integers(5, 12)
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 2
        mask[:, :3] = 3  # a Void strip
        name = f"img{i:02d}"
        Image.fromarray(COLOURS[mask]).save(root / "images" / f"{name}.png")
        Image.fromarray(mask).save(root / "labels" / f"{name}_P.png")
        names.append(name)
    (root / "valid.txt").write_text("".join(f"{n}.png\n" for n in names[:valid]))
    return root


def with_unproposed_images(root: Path, names: list[str]) -> Path:
    """Delete these images' masks (they need proposals) and save a random-init U-Net/ResNet18 (64x64) as the
    project's model: the set-up of the tests of the proposal child."""
    import torch

    from model.nets.networks import make_net, normalization
    from model.registry.modelfile import make_card, save_model

    for name in names:
        (root / "labels" / f"{name}_P.png").unlink()
    torch.manual_seed(0)
    card = make_card(arch="Unet", encoder="resnet18", classes=CODES, void_index=3, normalization=normalization(),
                     input_size=[64, 64], training_images=["img00"])
    save_model(root / "models", make_net("Unet", "resnet18", len(CODES)), card)
    return root

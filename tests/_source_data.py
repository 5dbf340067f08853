"""A synthetic video for the proposal-source tests (issue 18): a textured square moving one pixel per frame
over a still textured background. The flow follows it between consecutive frames (the warp is nearly
exact) but not 40 frames apart, where the warp puts the square where it was: twice the square's pixels
wrong, while a network that always says "background" gets only the square's pixels wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CODES = ["Thing", "Other", "Background", "Void"]
BACKGROUND = 2
H, W, SIDE = 32, 128, 24


def _texture(rng, h: int, w: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rng.integers(0, 256, (h // 2, w // 2, 3), dtype=np.uint8)).resize((w, h)))


def frame(number: int) -> tuple[np.ndarray, np.ndarray]:
    """(image, truth mask) of frame ``number``: the square (class 0) at x = 2 + number % 96."""
    rng = np.random.default_rng(1)
    image = _texture(rng, H, W).copy()
    square = _texture(rng, SIDE, SIDE)
    x = 2 + number % 96
    image[4:4 + SIDE, x:x + SIDE] = square
    mask = np.full((H, W), BACKGROUND, np.uint8)
    mask[4:4 + SIDE, x:x + SIDE] = 0
    return image, mask


def make_sequence(root: Path, frames: dict[int, bool], valid: tuple[int, ...] = ()) -> Path:
    """A project of frames ``seq_NNN``; ``frames`` maps frame number -> whether it has its truth mask
    (corrected); ``valid`` frames are listed in valid.txt (held out)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    (root / "codes.txt").write_text("\n".join(CODES) + "\n")
    for number, labelled in frames.items():
        image, mask = frame(number)
        Image.fromarray(image).save(root / "images" / f"seq_{number:03d}.png")
        if labelled:
            Image.fromarray(mask, mode="L").save(root / "labels" / f"seq_{number:03d}_P.png")
    (root / "valid.txt").write_text("".join(f"seq_{n:03d}.png\n" for n in valid))
    return root

"""A built-in demo project: generated street-like scenes with exact masks, CamVid-11 classes.

Offline and deterministic. Some images come with masks (they count as corrected, as a person's masks
would), the rest have none, so the first thing a user sees is the model proposing them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.draw import disk, ellipse, polygon, rectangle

from model.atomic import atomic_write_text
from model.images.imageio import write_image, write_mask
from model.project.codes import CAMVID11_CODES, write_codes
from model.project.palette import default_palette

C = {name: index for index, name in enumerate(CAMVID11_CODES)}
SEQUENCES = ("seqA", "seqB", "seqC")


def _fill(img, mask, rr, cc, colour, cls, rng, noise=10):
    colour = np.asarray(colour, dtype=np.float32)
    jitter = rng.normal(0, noise, size=(len(rr), 3))
    img[rr, cc] = np.clip(colour + jitter, 0, 255)
    mask[rr, cc] = cls


def render_scene(rng: np.random.Generator, width: int = 256, height: int = 192) -> tuple[np.ndarray, np.ndarray]:
    """One street scene: (H, W, 3) uint8 image and (H, W) uint8 class mask."""
    img = np.zeros((height, width, 3), np.float32)
    mask = np.full((height, width), C["Void"], np.uint8)
    horizon = int(height * rng.uniform(0.38, 0.5))
    shape = (height, width)

    # sky: a vertical gradient
    sky_top, sky_bottom = np.array([90, 140, 215]), np.array([190, 210, 235])
    t = np.linspace(0, 1, horizon)[:, None, None]
    img[:horizon] = sky_top * (1 - t) + sky_bottom * t + rng.normal(0, 4, (horizon, width, 3))
    mask[:horizon] = C["Sky"]

    # buildings along the horizon, with windows
    x = 0
    while x < width:
        w = int(rng.integers(width // 8, width // 3))
        top = int(rng.integers(height // 12, horizon - 10))
        rr, cc = rectangle((top, x), (horizon + 4, min(width, x + w) - 1), shape=shape)
        base = rng.choice([[150, 90, 70], [170, 160, 140], [120, 110, 120], [185, 130, 90]])
        _fill(img, mask, rr.ravel(), cc.ravel(), base, C["Building"], rng, 8)
        for wy in range(top + 6, horizon - 4, 12):
            for wx in range(x + 4, min(width, x + w) - 6, 10):
                rr, cc = rectangle((wy, wx), (wy + 5, wx + 4), shape=shape)
                img[rr, cc] = (40, 50, 70)
        x += w + int(rng.integers(0, width // 10))

    # sidewalk and road (perspective trapezoids)
    vanish = width * rng.uniform(0.35, 0.65)
    rr, cc = polygon([horizon, horizon, height, height], [0, width, width, 0], shape)
    _fill(img, mask, rr, cc, (175, 165, 150), C["Sidewalk"], rng, 9)
    left, right = vanish - width * 0.06, vanish + width * 0.06
    rr, cc = polygon([horizon, horizon, height, height], [left, right, width * 1.15, -width * 0.15], shape)
    _fill(img, mask, rr, cc, (85, 85, 90), C["Road"], rng, 7)
    for k in range(5):  # lane markings belong to the road class
        y0 = horizon + (height - horizon) * k / 5
        y1 = y0 + (height - horizon) / 10
        rr, cc = polygon([y0, y0, y1, y1], [vanish - 1, vanish + 1, vanish + 3, vanish - 3], shape)
        img[rr, cc] = (230, 230, 220)

    # fence on one side
    if rng.random() < 0.6:
        fy = horizon + int((height - horizon) * 0.1)
        rr, cc = rectangle((fy - 12, 0), (fy, int(width * rng.uniform(0.1, 0.3))), shape=shape)
        _fill(img, mask, rr.ravel(), cc.ravel(), (110, 80, 50), C["Fence"], rng, 6)

    # trees: green blobs on trunks
    for _ in range(int(rng.integers(1, 4))):
        cx = int(rng.integers(0, width))
        cy = int(horizon - rng.integers(5, 30))
        r = int(rng.integers(12, 28))
        rr, cc = disk((cy, cx), r, shape=shape)
        _fill(img, mask, rr, cc, (50, 120, 40), C["Tree"], rng, 22)

    # poles with signs
    for _ in range(int(rng.integers(1, 3))):
        px = int(rng.integers(5, width - 5))
        foot = int(rng.integers(horizon + 5, height))
        top = foot - int(rng.integers(50, 90))
        rr, cc = rectangle((top, px), (foot, px + 2), shape=shape)
        _fill(img, mask, rr.ravel(), cc.ravel(), (60, 60, 60), C["Pole"], rng, 3)
        if rng.random() < 0.7:
            rr, cc = disk((top, px + 1), 6, shape=shape)
            _fill(img, mask, rr, cc, (200, 30, 30), C["SignSymbol"], rng, 6)

    # cars on the road
    for _ in range(int(rng.integers(1, 4))):
        cy = int(rng.integers(horizon + 12, height - 5))
        scale = (cy - horizon) / (height - horizon) + 0.3
        cw, ch = int(40 * scale), int(20 * scale)
        cx = int(vanish + rng.normal(0, width * 0.2))
        body = rng.choice([[200, 40, 40], [40, 70, 180], [230, 230, 230], [30, 30, 30], [220, 180, 40]])
        rr, cc = ellipse(cy - ch // 2, cx, ch // 2 + 1, cw // 2 + 1, shape=shape)
        _fill(img, mask, rr, cc, body, C["Car"], rng, 6)
        for wx in (cx - cw // 3, cx + cw // 3):
            rr, cc = disk((cy, wx), max(2, ch // 4), shape=shape)
            _fill(img, mask, rr, cc, (20, 20, 20), C["Car"], rng, 3)

    # pedestrians on the sidewalk, a bicyclist on the road
    for _ in range(int(rng.integers(0, 3))):
        py = int(rng.integers(horizon + 10, height - 2))
        px = int(rng.choice([rng.integers(0, max(1, int(left))), rng.integers(min(width - 1, int(right)), width)]))
        s = (py - horizon) / (height - horizon) + 0.4
        rr, cc = ellipse(py - int(12 * s), px, int(12 * s) + 1, int(4 * s) + 1, shape=shape)
        _fill(img, mask, rr, cc, rng.choice([[150, 40, 120], [40, 150, 140], [90, 60, 30]]), C["Pedestrian"], rng, 8)
        rr, cc = disk((py - int(26 * s), px), int(3 * s) + 1, shape=shape)
        _fill(img, mask, rr, cc, (220, 180, 150), C["Pedestrian"], rng, 5)
    if rng.random() < 0.4:
        by = int(rng.integers(horizon + 15, height - 5))
        bx = int(vanish + rng.normal(0, width * 0.1))
        rr, cc = ellipse(by - 10, bx, 10, 5, shape=shape)
        _fill(img, mask, rr, cc, (240, 120, 20), C["Bicyclist"], rng, 8)
        for wx in (bx - 7, bx + 7):
            rr, cc = disk((by, wx), 4, shape=shape)
            _fill(img, mask, rr, cc, (30, 30, 30), C["Bicyclist"], rng, 3)

    img += rng.normal(0, 3, img.shape)  # sensor noise
    return np.clip(img, 0, 255).astype(np.uint8), mask


def create_demo_project(root: str | Path, images_per_sequence: int = 8, labelled_per_sequence: int = 3,
                        seed: int = 0, size: tuple[int, int] = (256, 192)) -> Path:
    """Write the demo project to ``root`` (which must not hold a project yet) and return its path."""
    root = Path(root)
    if (root / "codes.txt").exists():
        raise FileExistsError(f"{root}: already holds a project (codes.txt exists)")
    rng = np.random.default_rng(seed)
    palette = default_palette(CAMVID11_CODES)
    valid = []
    for s, sequence in enumerate(SEQUENCES):
        for i in range(images_per_sequence):
            name = f"{sequence}_{i:04d}"
            image, mask = render_scene(rng, *size)
            write_image(root / "images" / f"{name}.png", image)
            if i < labelled_per_sequence:
                write_mask(root / "labels" / f"{name}_P.png", mask, palette)
                if s == len(SEQUENCES) - 1:  # one whole sequence validates: no near-duplicates across the split
                    valid.append(f"{name}.png")
    write_codes(root / "codes.txt", CAMVID11_CODES)
    atomic_write_text(root / "valid.txt", "\n".join(valid) + "\n")
    return root

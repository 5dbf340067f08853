"""A small project for the status-rule tests (test_status_rule, test_review): three classes with Void,
random images of SIZE, masks of random stripes."""

from __future__ import annotations

import numpy as np

from model.images.imageio import write_image
from model.project.codes import write_codes
from model.project.project import Project

CODES = ["Sky", "Road", "Void"]
SIZE = (24, 32)


def make(root, n=4):
    write_codes(root / "codes.txt", CODES)
    rng = np.random.default_rng(0)
    for i in range(n):
        write_image(root / "images" / f"f{i}.png", rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8))
    return Project.open(root)


def striped(seed=0):
    return np.random.default_rng(seed).integers(0, 3, SIZE).astype(np.uint8)

"""A small video for the warp-after-Accept tests: frames of a moving object, a network that is no use, and
an Accept as the app's proposal child is told of it (no model file, no Qt)."""

from __future__ import annotations

import numpy as np

from model.images.imageio import write_image
from model.inference.predict import Prediction
from model.inference.prefetch import Prefetcher
from model.inference.propose import propose_dataset
from model.project.codes import write_codes
from model.project.project import Project

CODES = ["Road", "Car", "Void"]


def frame(cy, cx, h=96, w=128, seed=0):
    """Textured background and a textured square object centred at (cy, cx); mask 1 on the object."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    bg = 90 + 40 * np.sin(yy / 5.0) * np.cos(xx / 7.0)
    img = np.stack([bg, bg * 0.8, bg * 0.6], -1)
    obj = (abs(yy - cy) < 14) & (abs(xx - cx) < 14)
    tex = 200 + 40 * np.sin((yy - cy) / 2.5) * np.sin((xx - cx) / 3.0)
    img[obj] = np.stack([tex, tex * 0.5, tex * 0.3], -1)[obj]
    img += rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), obj.astype(np.uint8)


def unrelated(seed: int, h=96, w=128) -> np.ndarray:
    """Another scene altogether: a mosaic of coloured patches (no warp of the sequence fits it)."""
    rng = np.random.default_rng(seed)
    patches = rng.uniform(30, 220, (h // 16 + 1, w // 16 + 1, 3))
    return np.kron(patches, np.ones((16, 16, 1)))[:h, :w].astype(np.uint8)


class Useless:
    """The network: class 0 everywhere, 0.6 sure (so a warped proposal differs from it visibly)."""

    classes = None
    model_name = "useless"

    def predict_many(self, images, **_options):
        return [Prediction(np.zeros(im.shape[:2], np.uint8), np.full(im.shape[:2], 0.6, np.float32))
                for im in images]


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def make_video(tmp_path):
    """seq_0001..seq_0005 (an object moving right and down), other_0001..0002 (another sequence), all
    proposed by the network; returns (project, truth masks by name)."""
    write_codes(tmp_path / "codes.txt", CODES)
    truth = {}
    for i in range(1, 6):
        image, mask = frame(30 + 4 * i, 30 + 7 * i, seed=i)
        write_image(tmp_path / "images" / f"seq_{i:04d}.png", image)
        truth[f"seq_{i:04d}"] = mask
    for i in range(1, 3):
        image, mask = frame(40, 40 + 5 * i, seed=10 + i)
        write_image(tmp_path / "images" / f"other_{i:04d}.png", image)
        truth[f"other_{i:04d}"] = mask
    project = Project.open(tmp_path)
    assert len(propose_dataset(project, predictor=Useless(), neighbours="off")) == 7
    return project, truth


def prefetcher_for(project, errors: list) -> Prefetcher:
    prefetcher = Prefetcher(project, ahead=0, on_error=lambda name, message: errors.append((name, message)))
    prefetcher._ensure_predictor = Useless  # no model file: the network's proposal is the useless one
    return prefetcher


def accept(project, name: str, mask: np.ndarray) -> list[str]:
    """Save ``name`` corrected, tell a prefetcher as the proposal child is told; the names it wrote."""
    project.save_mask(name, mask, "corrected")
    errors: list = []
    prefetcher = prefetcher_for(project, errors)
    try:
        prefetcher.accepted([name])
        assert prefetcher.wait_idle(60)
    finally:
        prefetcher.close()
    assert errors == []  # nothing failed: what was not written was left alone on purpose
    return prefetcher.proposed

"""Sliding-window prediction for images too large to push through the network in one piece.

Tiles overlap; each tile's class probabilities are weighted by a window that ramps smoothly
(raised cosine) down towards edges shared with a neighbouring tile, so seams do not show. Tiles
are walked in horizontal bands, and only one band of accumulators (C x tile x W floats) is held
at once: rows above the next band are final as soon as it starts, so they are reduced to the
class mask and confidence right away. A 4000 x 3000 photo therefore needs the HxW outputs plus
a few tiles' worth of probabilities, never C x H x W.

``run_scaled`` is THE resize/pad/crop step between an image and a network (training validation,
``Predictor``, ``evaluate`` and ``networks.ScaledInput`` all go through it): resize by the working
scale (antialiased when shrinking), reflect-pad bottom/right to a multiple of 32, run, crop, resize the
logits back to the input's size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class TileConfig:
    """``max_pixels``: images with more pixels than this (at the working scale) are tiled: the memory
    budget of one forward pass. ``max_side``: optionally tile also when the longer side exceeds it.
    ``size``: tile side (a multiple of 32 keeps the network's strides aligned). ``overlap``: pixels
    shared by neighbouring tiles. ``batch``: tiles pushed through the network at once."""

    size: int = 512
    overlap: int = 128
    max_side: int | None = None
    batch: int = 4
    max_pixels: int = 2048 * 2048

    def __post_init__(self):
        if self.size < 32:
            raise ValueError(f"tile size must be at least 32 pixels, got {self.size}")
        if not 0 <= self.overlap < self.size:
            raise ValueError(f"tile overlap must be 0..{self.size - 1}, got {self.overlap}")
        if self.batch < 1:
            raise ValueError(f"tile batch must be at least 1, got {self.batch}")

    def needs_tiling(self, height: int, width: int) -> bool:
        if self.max_side is not None and max(height, width) > self.max_side:
            return True
        return height * width > self.max_pixels


def pad_to_multiple(x: torch.Tensor, multiple: int = 32) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) at the bottom and right to multiples of ``multiple`` (reflecting the image
    where it is big enough, repeating the edge otherwise). Returns the padded tensor and (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def scaled_size(h: int, w: int, scale: float) -> tuple[int, int]:
    return max(1, round(h * scale)), max(1, round(w * scale))


def run_scaled(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, scale: float = 1.0,
               multiple: int = 32) -> torch.Tensor:
    """Logits (B, K, H, W) at ``x``'s own size for a normalised (B, C, H, W) input run at ``scale``:
    resize (antialiased when shrinking), reflect-pad to ``multiple``, ``forward``, crop, resize back."""
    h, w = x.shape[-2:]
    if scale != 1.0:
        x = F.interpolate(x, size=scaled_size(h, w, scale), mode="bilinear", align_corners=False,
                          antialias=scale < 1.0)
    x, (sh, sw) = pad_to_multiple(x, multiple)
    logits = forward(x)[..., :sh, :sw]
    if (sh, sw) != (h, w):
        logits = F.interpolate(logits.float(), size=(h, w), mode="bilinear", align_corners=False)
    return logits


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering 0..length with tiles of ``tile`` pixels overlapping by at least
    ``overlap``; the last tile ends exactly at ``length``."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def _ramp(n: int, overlap: int, ramp_start: bool, ramp_end: bool) -> torch.Tensor:
    """1-D weights: 1 in the middle, a raised-cosine ramp (never reaching 0) over ``overlap``
    pixels at each end that is shared with a neighbour."""
    w = torch.ones(n, dtype=torch.float32)
    r = min(overlap, n // 2)
    if r > 0:
        i = torch.arange(r, dtype=torch.float32)
        ramp = 0.5 - 0.5 * torch.cos(math.pi * (i + 0.5) / r)
        if ramp_start:
            w[:r] = torch.minimum(w[:r], ramp)
        if ramp_end:
            w[n - r:] = torch.minimum(w[n - r:], ramp.flip(0))
    return w


def blend_window(h: int, w: int, overlap: int, top: bool, bottom: bool, left: bool, right: bool) -> torch.Tensor:
    """(h, w) weight for one tile; the flags say which edges have a neighbouring tile."""
    return _ramp(h, overlap, top, bottom)[:, None] * _ramp(w, overlap, left, right)[None, :]


ProbFn = Callable[[list[np.ndarray]], torch.Tensor]


def predict_tiled(
    image: np.ndarray,
    probs_fn: ProbFn,
    config: TileConfig,
    with_entropy: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Predict an (H, W, C) image (any dtype) tile by tile.

    ``probs_fn(tiles)`` takes a list of equally sized (h, w, C) tiles (views of ``image``) and returns their class
    probabilities (B, C, h, w) (float, any device). Returns the (H, W) uint8 class mask, the (H, W)
    float32 confidence (blended max probability) and, if asked, the (H, W) float32 entropy (nats).
    """
    height, width = image.shape[:2]
    th, tw = min(config.size, height), min(config.size, width)
    ys = tile_starts(height, th, config.overlap)
    xs = tile_starts(width, tw, config.overlap)
    mask = np.empty((height, width), dtype=np.uint8)
    confidence = np.empty((height, width), dtype=np.float32)
    entropy = np.empty((height, width), dtype=np.float32) if with_entropy else None

    acc: torch.Tensor | None = None  # (C, th, W): weighted probabilities of the current band
    wacc = torch.zeros((th, width), dtype=torch.float32)  # summed weights
    top = 0  # image row of acc's first row
    windows: dict[tuple[bool, bool, bool, bool], torch.Tensor] = {}

    def finalize(rows: int) -> None:
        nonlocal acc, wacc, top
        if rows <= 0:
            return
        weight = wacc[:rows].to(acc.device)
        probs = acc[:, :rows] / weight.clamp_min(1e-12)
        conf, cls = probs.max(dim=0)
        mask[top:top + rows] = cls.to(torch.uint8).cpu().numpy()
        confidence[top:top + rows] = conf.float().cpu().numpy()
        if entropy is not None:
            ent = -(probs * probs.clamp_min(1e-12).log()).sum(dim=0)
            entropy[top:top + rows] = ent.float().cpu().numpy()
        # shift the unfinished rows up; the freed rows start at zero for the next band
        acc = torch.cat([acc[:, rows:], torch.zeros_like(acc[:, :rows])], dim=1)
        wacc = torch.cat([wacc[rows:], torch.zeros_like(wacc[:rows])], dim=0)
        top += rows

    for yi, y in enumerate(ys):
        if acc is not None:
            finalize(y - top)
        jobs = [(y, x, xi) for xi, x in enumerate(xs)]
        for start in range(0, len(jobs), config.batch):
            chunk = jobs[start:start + config.batch]
            tiles = [image[ty:ty + th, tx:tx + tw] for ty, tx, _ in chunk]
            probs = probs_fn(tiles).float()
            if acc is None:
                acc = torch.zeros((probs.shape[1], th, width), dtype=torch.float32, device=probs.device)
            for k, (_ty, tx, xi) in enumerate(chunk):
                key = (yi > 0, yi < len(ys) - 1, xi > 0, xi < len(xs) - 1)
                if key not in windows:
                    windows[key] = blend_window(th, tw, config.overlap, *key)
                win = windows[key]
                acc[:, :, tx:tx + tw] += probs[k] * win.to(probs.device)
                wacc[:, tx:tx + tw] += win
            del probs
    finalize(height - top)
    return mask, confidence, entropy

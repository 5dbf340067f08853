"""Sliding-window prediction for images too large to push through the network in one piece.

Tiles overlap; each tile's class probabilities are weighted by a window that ramps smoothly
(raised cosine) down towards edges shared with a neighbouring tile, so seams do not show. Tiles
are walked in horizontal bands, and only one band of accumulators (C x tile x W floats) is held
at once: rows above the next band are final as soon as it starts, so they are reduced to the
class mask and confidence right away. A 4000 x 3000 photo therefore needs the HxW outputs plus
a few tiles' worth of probabilities, never C x H x W.

``run_scaled`` is THE resize/pad/crop step between an image and a network (training validation,
``Predictor``, ``evaluate`` and ``networks.ScaledInput`` all go through it): resize by the working
scale (``to_working``: antialiased when shrinking), reflect-pad bottom/right to a multiple of 32, run,
crop (``run_working``), resize the logits back to the input's size. ``Predictor`` uses the first two
steps and resizes back band by band (``model.nets.planes``), never holding K x H x W full-size floats.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .planes import PlaneReducer


@dataclass(frozen=True)
class TileConfig:
    """``max_pixels``: images with more pixels than this (at the working scale) are tiled: the memory
    budget of one forward pass. ``max_side``: optionally tile also when the longer side exceeds it.
    ``size``: tile side (a multiple of 32 keeps the network's strides aligned). ``overlap``: pixels
    shared by neighbouring tiles. ``batch``: tiles pushed through the network at once. ``strip_pixels``:
    an untiled image with more working-scale pixels than this runs through the network in full-width
    strips (``run_working``): the network's activations set a large photo's peak memory."""

    size: int = 512
    overlap: int = 128
    max_side: int | None = None
    batch: int = 4
    max_pixels: int = 2048 * 2048
    strip_pixels: int | None = 1 << 19

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


def to_working(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The resize step of ``run_scaled``: a (B, C, H, W) input at the working ``scale`` (bilinear,
    antialiased when shrinking). Channels are resized independently, so a caller may resize one
    channel at a time (``Predictor`` does, to hold one full-size float channel instead of all)."""
    if scale == 1.0:
        return x
    h, w = x.shape[-2:]
    return F.interpolate(x, size=scaled_size(h, w, scale), mode="bilinear", align_corners=False,
                         antialias=scale < 1.0)


def run_working(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multiple: int = 32,
                strip_pixels: int | None = None, overlap: int = 128) -> torch.Tensor:
    """Logits (B, K, h, w) at the working-scale input's own size: reflect-pad to ``multiple``, run, crop.

    ``strip_pixels``: when the batch has more pixels than this, the network runs over full-width horizontal
    strips (overlapping by at least ``overlap`` rows, logits blended by a raised-cosine ramp there), so its
    activations are those of a strip: a U-Net/ResNet18 forward at 2 MP took 650 MB, the 12 and 50 MP photos'
    peak (benchmarks/README_inference.md, "Memory")."""
    h, w = x.shape[-2:]
    batch = x.shape[0]
    if strip_pixels is None or batch * h * w <= strip_pixels or h <= 2 * multiple + overlap:
        x, (sh, sw) = pad_to_multiple(x, multiple)
        return forward(x)[..., :sh, :sw]
    budget_rows = max(2 * multiple + overlap, strip_pixels // (batch * w))
    count = math.ceil((h - overlap) / (budget_rows - overlap))
    rows = min(h, -(-math.ceil((h + (count - 1) * overlap) / count) // multiple) * multiple)
    starts = tile_starts(h, rows, overlap)
    out: torch.Tensor | None = None
    weight = torch.zeros(h, dtype=torch.float32, device=x.device)
    for i, y in enumerate(starts):
        logits = run_working(forward, x[..., y:y + rows, :], multiple).float()
        win = _ramp(rows, overlap, i > 0, i < len(starts) - 1).to(x.device)
        if out is None:
            out = torch.zeros((batch, logits.shape[1], h, w), dtype=torch.float32, device=x.device)
        out[..., y:y + rows, :] += logits * win[:, None]
        weight[y:y + rows] += win
        del logits
    return out.div_(weight[:, None])


def run_scaled(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, scale: float = 1.0,
               multiple: int = 32) -> torch.Tensor:
    """Logits (B, K, H, W) at ``x``'s own size for a normalised (B, C, H, W) input run at ``scale``:
    ``to_working``, ``run_working``, resize back (bilinear). ``Predictor`` stops before the resize back
    and resizes the logits band by band (``model.nets.planes``): at full size they are K x H x W floats."""
    h, w = x.shape[-2:]
    logits = run_working(forward, to_working(x, scale), multiple)
    if logits.shape[-2:] != (h, w):
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
    reducer: PlaneReducer | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Predict an (H, W, C) image (any dtype) tile by tile.

    ``probs_fn(tiles)`` takes a list of equally sized (h, w, C) tiles (views of ``image``) and returns their class
    probabilities (B, C, h, w) (float, any device). Returns the (H, W) uint8 class mask, the (H, W)
    confidence (blended max probability: float32, or uint8 from a quantising reducer) and, if asked, the (H, W) float32 entropy (nats).
    ``reducer``: a ``model.nets.planes.PlaneReducer`` of the image's size to fill (its figures too).
    """
    height, width = image.shape[:2]
    th, tw = min(config.size, height), min(config.size, width)
    ys = tile_starts(height, th, config.overlap)
    xs = tile_starts(width, tw, config.overlap)
    if reducer is None:
        reducer = PlaneReducer(height, width, entropy_plane=with_entropy)

    acc: torch.Tensor | None = None  # (C, th, W): weighted probabilities of the current band
    wacc = torch.zeros((th, width), dtype=torch.float32)  # summed weights
    top = 0  # image row of acc's first row
    windows: dict[tuple[bool, bool, bool, bool], torch.Tensor] = {}

    def finalize(rows: int) -> None:
        nonlocal top
        if rows <= 0:
            return
        probs = acc[:, :rows].div_(wacc[:rows].to(acc.device).clamp_min(1e-12))
        reducer.put(top, probs)
        # move the unfinished rows up (in place); the freed rows start at zero for the next band
        keep = acc.shape[1] - rows
        acc[:, :keep] = acc[:, rows:].clone()
        acc[:, keep:] = 0
        wacc[:keep] = wacc[rows:].clone()
        wacc[keep:] = 0
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
    return reducer.mask, reducer.confidence, reducer.entropy

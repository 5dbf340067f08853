"""From a network's class scores to the planes a proposal is made of, in bounded memory.

A proposal is three (H, W) planes at the image's FULL resolution (class mask, confidence, optionally
entropy) and a few figures over them (mean confidence, unsure share, mean entropy). The network runs at the working scale; its logits there are small
(K x h x w), but K x H x W float probabilities of a 50 MP photo are 2.2 GB per tensor at 11 classes,
and softmax, entropy and the resize each made one. Here the working-scale logits are resized
(bilinear, exactly ``F.interpolate(..., align_corners=False)``'s sampling) one horizontal band of
output rows at a time and each band is reduced to the planes and the figures at once, so memory
is the planes plus a band (``BAND_BYTES``), whatever the image's size.

``PlaneReducer`` is the one reduction (probabilities -> class, confidence, entropy, figures);
``reduce_logits`` feeds it from working-scale logits, ``tiling.predict_tiled`` from its blended
tile probabilities.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

LOW_CONFIDENCE = 0.5  # pixels below this count as "unsure" in a proposal's figures
BAND_BYTES = 4 << 20  # one K x rows x W float32 band; a few such temporaries live at once


class PlaneReducer:
    """Collects an (H, W) image's class mask, confidence and (``entropy_plane``) entropy, band by band,
    and the proposal figures over all its pixels (``stats``).

    ``quantise``: the rule that stores a float32 band of confidence as uint8 (``model.project.confidence.
    quantise_confidence``, what a confidence PNG holds); given, the confidence plane is kept in that form
    (50 MB at 50 MP instead of 200), the figures still come from the float values."""

    def __init__(self, height: int, width: int, entropy_plane: bool = False,
                 quantise: Callable[[np.ndarray], np.ndarray] | None = None):
        self.height, self.width = height, width
        self.mask = np.empty((height, width), dtype=np.uint8)
        self._quantise = quantise
        self.confidence = np.empty((height, width), dtype=np.float32 if quantise is None else np.uint8)
        self.entropy = np.empty((height, width), dtype=np.float32) if entropy_plane else None
        self._sums = np.zeros(3, dtype=np.float64)  # confidence, unsure pixels, entropy (nats)

    def put(self, top: int, probs: torch.Tensor) -> None:
        """Rows ``top``.. of the image from their (K, rows, W) class probabilities."""
        rows = probs.shape[1]
        conf, cls = probs.max(dim=0)
        ent = torch.special.entr(probs).sum(dim=0)
        self.mask[top:top + rows] = cls.to(torch.uint8).cpu().numpy()
        band = conf.float().cpu().numpy()
        self.confidence[top:top + rows] = band if self._quantise is None else self._quantise(band)
        if self.entropy is not None:
            self.entropy[top:top + rows] = ent.float().cpu().numpy()
        self._sums += (float(conf.double().sum()), float((conf < LOW_CONFIDENCE).sum()),
                       float(ent.double().sum()))

    def stats(self) -> dict[str, float]:
        """Means over every pixel: mean_confidence, unsure_fraction (confidence < LOW_CONFIDENCE) and
        entropy (nats, not normalised). No margin: the summary ranks by entropy when it has it, and a
        top-2 per pixel cost more time than the rest of the reduction."""
        n = max(1, self.height * self.width)
        conf, unsure, ent = (float(v) / n for v in self._sums)
        return {"mean_confidence": conf, "unsure_fraction": unsure, "entropy": ent}


def _source_rows(src: torch.Tensor, r0: int, r1: int, out_h: int) -> torch.Tensor:
    """Rows r0..r1 of ``src`` (K, h, w) resized to ``out_h`` rows: bilinear, align_corners=False (the
    sampling of F.interpolate: source = (row + 0.5) * h / out_h - 0.5, clamped at 0)."""
    h = src.shape[1]
    if h == out_h:
        return src[:, r0:r1]
    ratio = torch.tensor(h / out_h, dtype=torch.float32)
    pos = ((torch.arange(r0, r1, dtype=torch.float32) + 0.5) * ratio - 0.5).clamp_min(0.0)
    i0 = pos.long().clamp_max(h - 1)
    i1 = (i0 + 1).clamp_max(h - 1)
    lam = (pos - i0.float()).to(src.device)[None, :, None]
    i0, i1 = i0.to(src.device), i1.to(src.device)
    return torch.lerp(src[:, i0], src[:, i1], lam)


def reduce_logits(sources: list[torch.Tensor], reducer: PlaneReducer, band_bytes: int = BAND_BYTES) -> None:
    """Fill ``reducer`` from working-scale logits (each (K, h, w); several are averaged as probabilities,
    e.g. an image and its mirror): resized to the reducer's size and soft-maxed one band at a time."""
    k, _h, w = sources[0].shape
    height, width = reducer.height, reducer.width
    rows = max(1, band_bytes // (4 * k * width))
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        probs = None
        for src in sources:
            band = _source_rows(src.float(), r0, r1, height)
            if w != width:  # rows are already at the output's: this resizes the columns only
                band = F.interpolate(band[None], size=(r1 - r0, width), mode="bilinear", align_corners=False)[0]
            p = F.softmax(band, dim=0)
            del band
            probs = p if probs is None else probs.add_(p)
        if len(sources) > 1:
            probs.mul_(1.0 / len(sources))
        reducer.put(r0, probs)
        del probs

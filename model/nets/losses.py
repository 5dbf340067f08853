"""Losses: cross-entropy ignoring Void (optionally class-weighted), plus Dice/Focal from smp.losses, and label
relaxation at the boundaries of derived (optical-flow propagated) masks.

Label relaxation (Zhu et al., CVPR 2019, "Improving Semantic Segmentation via Video Propagation and Label
Relaxation"): where a target pixel is *flagged* (its class + RELAX_FLAG, set by model.training.propagated in a band
around the warped boundaries), the loss is ``-log(sum of the softmax over every class present in the
(2 * RELAX_RADIUS + 1)^2 window of the target)``: the network is not punished for putting a boundary that the warp
may have moved by a pixel or two on either side. Unflagged pixels get the ordinary cross-entropy, so a batch
without flags is scored exactly as before.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from segmentation_models_pytorch import losses as smp_losses
from torch import nn

RELAX_FLAG = 128   # target value = class + RELAX_FLAG: relaxed pixel (classes must be < RELAX_FLAG)
RELAX_RADIUS = 2   # window half-size of the relaxation, in pixels at the working scale


def split_relaxed(target: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(classes, flagged) of a target that may carry relaxation flags (class + RELAX_FLAG)."""
    flagged = (target >= RELAX_FLAG) & (target != ignore_index)
    return torch.where(flagged, target - RELAX_FLAG, target), flagged


def relaxed_ce(logits: torch.Tensor, classes: torch.Tensor, flagged: torch.Tensor, ignore_index: int,
               radius: int = RELAX_RADIUS, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the non-ignored pixels of: cross-entropy where not ``flagged``; where flagged,
    ``-log(sum softmax over the classes present in the window of radius ``radius`` of ``classes``)`` (never more
    than the cross-entropy, equal to it where the window holds one class). ``weight``: per-class weights of the
    pixel's own class, normalised as nn.CrossEntropyLoss does."""
    n, c = logits.shape[:2]
    valid = (classes != ignore_index) & (classes >= 0) & (classes < c)
    safe = torch.where(valid, classes, torch.zeros_like(classes))
    logp = F.log_softmax(logits.float(), dim=1)
    ce = -logp.gather(1, safe[:, None])[:, 0]
    per_pixel = ce
    if bool(flagged.any()):
        onehot = F.one_hot(safe, c).permute(0, 3, 1, 2).float() * valid[:, None].float()
        present = F.max_pool2d(onehot, 2 * radius + 1, stride=1, padding=radius) > 0
        present |= onehot > 0
        relaxed = -torch.logsumexp(logp.masked_fill(~present, float("-inf")), dim=1)
        per_pixel = torch.where(flagged & valid, torch.minimum(relaxed, ce), ce)
    w = valid.float() if weight is None else weight.to(logits.device)[safe] * valid.float()
    return (per_pixel * w).sum() / w.sum().clamp_min(1e-12)


def class_weights_from_counts(counts: np.ndarray, num_classes: int, ignore_index: int,
                              scheme: str = "sqrt_inv_freq") -> torch.Tensor | None:
    """Per-class weights (mean 1 over the classes present) from pixel counts; Void gets 0."""
    if scheme == "none":
        return None
    counts = np.asarray(counts[:num_classes], dtype=np.float64)
    freq = counts / max(counts.sum(), 1.0)
    weights = np.zeros(num_classes)
    present = freq > 0
    weights[present] = 1.0 / np.sqrt(freq[present])
    if 0 <= ignore_index < num_classes:
        weights[ignore_index] = 0.0
        present[ignore_index] = False
    if present.any():
        weights[present] /= weights[present].mean()
        weights = np.clip(weights, 0.0, 10.0)
    return torch.tensor(weights, dtype=torch.float32)


class SegLoss(nn.Module):
    def __init__(self, kind: str, ignore_index: int, weight: torch.Tensor | None = None):
        super().__init__()
        self.kind = kind
        self.ignore_index = ignore_index
        self.ce = nn.CrossEntropyLoss(weight=weight, ignore_index=ignore_index)
        self.dice = smp_losses.DiceLoss("multiclass", ignore_index=ignore_index) if kind == "ce+dice" else None
        self.focal = smp_losses.FocalLoss("multiclass", ignore_index=ignore_index) if kind == "focal" else None

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        classes, flagged = split_relaxed(target, self.ignore_index)
        if bool(flagged.any()):  # propagated pairs: relaxed CE at their boundaries, Dice/Focal without those pixels
            hard = torch.where(flagged, torch.full_like(classes, self.ignore_index), classes)
            if self.focal is not None:
                return self.focal(logits, hard)
            loss = relaxed_ce(logits, classes, flagged, self.ignore_index, weight=self.ce.weight)
            return loss + self.dice(logits, hard) if self.dice is not None else loss
        if self.focal is not None:
            return self.focal(logits, target)
        loss = self.ce(logits, target)
        if self.dice is not None:
            loss = loss + self.dice(logits, target)
        return loss


def build_loss(kind: str, ignore_index: int, weight: torch.Tensor | None = None) -> nn.Module:
    if kind not in ("ce", "ce+dice", "focal"):
        raise ValueError(f"unknown loss {kind!r}")
    return SegLoss(kind, ignore_index, weight)

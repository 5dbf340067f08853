"""Losses: cross-entropy ignoring Void (optionally class-weighted), plus Dice/Focal from smp.losses."""

from __future__ import annotations

import numpy as np
import torch
from segmentation_models_pytorch import losses as smp_losses
from torch import nn


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

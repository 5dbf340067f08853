"""Segmentation metrics, the smp way: per-class true/false positive/negative counts, accumulated
over a whole split in one confusion matrix, reduced to metrics only at the end (never averaged
over batches, which would weight small batches and images wrongly).

The confusion matrix has rows = truth and columns = prediction. Pixels whose truth is the
ignore (Void) class are not counted at all; a pixel the model calls Void whose truth is a real
class counts as an error for that class (as fastai's ``acc_camvid`` does).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:  # torch is optional here: numpy inputs work without it
    import torch
except ImportError:  # pragma: no cover - torch is a hard dependency of the app
    torch = None  # type: ignore[assignment]


def _is_tensor(x: Any) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def confusion_matrix(pred, target, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """(C, C) int64 counts: ``cm[t, p]`` = pixels of truth ``t`` predicted as ``p``.

    ``pred`` and ``target`` are integer class maps of the same shape (numpy arrays or torch
    tensors, any device). Pixels whose target equals ``ignore_index`` are left out; a target
    outside ``0..num_classes-1`` (other than ``ignore_index``) or such a prediction raises
    ValueError naming the offending value.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    if _is_tensor(pred) or _is_tensor(target):
        return _confusion_torch(pred, target, num_classes, ignore_index)
    p = np.asarray(pred).reshape(-1).astype(np.int64, copy=False)
    t = np.asarray(target).reshape(-1).astype(np.int64, copy=False)
    if ignore_index is not None:
        keep = t != ignore_index
        if not keep.all():
            p, t = p[keep], t[keep]
    if t.size == 0:
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    _check_range("target", int(t.min()), int(t.max()), num_classes)
    _check_range("prediction", int(p.min()), int(p.max()), num_classes)
    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64, copy=False)


def _confusion_torch(pred, target, num_classes: int, ignore_index: int | None) -> np.ndarray:
    device = target.device if _is_tensor(target) else pred.device
    p = torch.as_tensor(pred, device=device).reshape(-1).long()
    t = torch.as_tensor(target, device=device).reshape(-1).long()
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    if t.numel() == 0:
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    _check_range("target", int(t.min()), int(t.max()), num_classes)
    _check_range("prediction", int(p.min()), int(p.max()), num_classes)
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).cpu().numpy().astype(np.int64, copy=False)


def _check_range(what: str, low: int, high: int, num_classes: int) -> None:
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(f"{what} holds class index {bad}, outside 0..{num_classes - 1}")


class ConfusionAccumulator:
    """Sum of confusion matrices over many batches/images: ``update`` each, read ``matrix``."""

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, pred, target) -> np.ndarray:
        """Add one batch (or image); returns that batch's own matrix."""
        cm = confusion_matrix(pred, target, self.num_classes, self.ignore_index)
        self.matrix += cm
        return cm

    def reset(self) -> None:
        self.matrix[:] = 0

    def metrics(self, class_names: list[str]) -> dict[str, Any]:
        return metrics_from_confusion(self.matrix, class_names, self.ignore_index)


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def metrics_from_confusion(cm, class_names: list[str], ignore_index: int | None = None) -> dict[str, Any]:
    """Reduce a confusion matrix to the numbers the app and ``evaluate`` report.

    Keys: ``pixel_accuracy`` (Void truth excluded, = fastai's acc_camvid), ``error_rate_non_void``
    (1 - accuracy), ``per_class_iou`` (name -> IoU, or None for a class absent from both truth and
    prediction; the ignore class is not listed), ``miou`` (mean over the listed classes present in
    truth or prediction), ``per_class`` (name -> tp/fp/fn/support/iou/recall/precision),
    ``num_pixels`` (scored pixels), ``classes`` and ``confusion`` (the matrix as lists).
    Values with no pixels to score are None (JSON null) rather than NaN.
    """
    cm = np.asarray(cm, dtype=np.int64)
    n = len(class_names)
    if cm.shape != (n, n):
        raise ValueError(f"confusion matrix is {cm.shape}, expected ({n}, {n}) for {n} class names")
    scored = cm.copy()
    if ignore_index is not None and 0 <= ignore_index < n:
        scored[ignore_index, :] = 0  # truth Void is never scored
    total = int(scored.sum())
    correct = int(np.trace(scored))
    accuracy = correct / total if total else math.nan

    tp = np.diag(scored).astype(np.float64)
    fp = scored.sum(axis=0) - tp
    fn = scored.sum(axis=1) - tp
    union = tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)

    listed = [c for c in range(n) if c != ignore_index]
    per_class_iou = {class_names[c]: _nan_to_none(iou[c]) for c in listed}
    present = [iou[c] for c in listed if union[c] > 0]
    miou = float(np.mean(present)) if present else math.nan
    per_class = {
        class_names[c]: {
            "tp": int(tp[c]), "fp": int(fp[c]), "fn": int(fn[c]), "support": int(tp[c] + fn[c]),
            "iou": _nan_to_none(iou[c]), "recall": _nan_to_none(recall[c]),
            "precision": _nan_to_none(precision[c]),
        }
        for c in listed
    }
    return {
        "pixel_accuracy": _nan_to_none(accuracy),
        "error_rate_non_void": _nan_to_none(1.0 - accuracy),
        "miou": _nan_to_none(miou),
        "per_class_iou": per_class_iou,
        "per_class": per_class,
        "num_pixels": total,
        "classes": list(class_names),
        "ignore_index": ignore_index,
        "confusion": cm.tolist(),
    }

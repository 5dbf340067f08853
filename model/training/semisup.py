"""Semi-supervised training on the project's unlabelled images: confident pseudo-labels (no Qt).

A project usually holds many more images than anyone has corrected, and in the realistic case they include
the frames of the video the user is about to label: exactly the images the next proposals are for. With
``TrainConfig.pseudo_labels = "confident"`` the retrain

1. trains on the corrected masks alone for the first ``START_FRACTION`` of its time budget (of its epochs
   when it has no budget);
2. predicts up to ``MAX_IMAGES`` images whose status is "none" or "proposed" (never a corrected image,
   never one of valid.txt/test.txt), evenly spread over the project's order, at the working scale and
   averaged with the mirrored prediction, for at most ``TIME_SHARE`` of the budget (this time counts
   against the budget like any other);
3. keeps each pixel whose softmax confidence is >= ``TrainConfig.pseudo_threshold`` (the others, and any
   pixel predicted Void, are ignored by the loss);
4. trains on for the rest of the budget on a mixture: each sample is a pseudo-labelled image with
   probability ``PSEUDO_SHARE``, otherwise the corrected image it would have been. The number of steps
   per epoch does not change, so the one-cycle schedule planned for the budget carries on unchanged.

The pseudo-labels live in memory only: nothing is written into ``labels/`` (or anywhere else) and no
corrected mask is read or changed by this module. What it did (images, seconds, share of pixels kept) goes
into the model card under ``training.pseudo_labels``.

Whether this pays for its cost on a sequence the model never saw is measured in
``benchmarks/bench_retrain_default.py`` (``--unlabelled``) and recorded in ``benchmarks/README_train.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from model.images.imageio import read_raw
from model.nets import normalization as nz
from model.nets.tiling import run_scaled

from .augment import normalize
from .data import SegmentationDataset, to_working_scale

START_FRACTION = 0.5   # share of the budget (or epochs) trained on the corrected masks alone
PSEUDO_SHARE = 0.5     # afterwards: probability that a training sample is a pseudo-labelled image
MAX_IMAGES = 100       # unlabelled images predicted at most
TIME_SHARE = 0.1       # at most this share of the time budget spent predicting them
UNLABELLED = ("none", "proposed")


def unlabelled_names(project, exclude=()) -> list[str]:
    """The project's images nobody has corrected (status "none"/"proposed"), in the project's order,
    without valid.txt/test.txt images and ``exclude``."""
    skip = project.valid_names() | project.test_names() | set(exclude)
    statuses = project.statuses()
    return [n for n in project.names() if statuses.get(n) in UNLABELLED and n not in skip]


def spread(names: list[str], count: int) -> list[str]:
    """At most ``count`` of ``names``, evenly spaced (all of them when there are few)."""
    if len(names) <= count:
        return list(names)
    idx = np.linspace(0, len(names) - 1, count).round().astype(int)
    return [names[i] for i in idx]


def working_image(path: Path, norm: dict, scale: float) -> np.ndarray:
    """The image at the working scale in the form ``SegmentationDataset.load`` gives (8-bit RGB for
    "imagenet" normalisation, normalised float32 bands otherwise), so training sees pseudo-labelled
    images exactly as it sees corrected ones."""
    return to_working_scale(nz.prepare(read_raw(path), norm, path), norm, scale)


def _network_input(image: np.ndarray, norm: dict) -> torch.Tensor:
    image = image if image.flags.writeable and image.flags.c_contiguous else np.array(image)
    t = torch.from_numpy(image).permute(2, 0, 1)
    if nz.kind(norm) == "imagenet":
        return normalize(t, norm.get("mean"), norm.get("std"))
    return t.float()


@dataclass
class PseudoLabels:
    names: list[str] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)  # at the working scale (see working_image)
    masks: list[np.ndarray] = field(default_factory=list)   # uint8 classes, ignore_index where not confident
    kept: int = 0       # pixels kept (confident, not Void)
    pixels: int = 0     # pixels predicted
    seconds: float = 0.0

    @property
    def kept_share(self) -> float:
        return self.kept / self.pixels if self.pixels else 0.0


@torch.no_grad()
def pseudo_label(net: torch.nn.Module, paths: list[Path], names: list[str], norm: dict, scale: float,
                 threshold: float, ignore_index: int, device: torch.device | str = "cpu",
                 deadline: float | None = None, flip: bool = True) -> PseudoLabels:
    """Confident pseudo-labels of ``paths`` (at the working ``scale``) from ``net`` in eval mode: the class
    where the (flip-averaged) softmax confidence is >= ``threshold``, ``ignore_index`` elsewhere and where
    the class predicted is ``ignore_index`` (Void). Stops at ``deadline`` (time.monotonic()) after at least
    one image. Reads the image files only; writes nothing."""
    t0 = time.monotonic()
    was_training = net.training
    net.eval()
    out = PseudoLabels()
    try:
        for path, name in zip(paths, names, strict=True):
            if deadline is not None and out.names and time.monotonic() > deadline:
                break
            image = working_image(Path(path), norm, scale)
            x = _network_input(image, norm)[None].to(device)
            probs = F.softmax(run_scaled(net, x, 1.0).float(), dim=1)
            if flip:
                probs = 0.5 * (probs + F.softmax(run_scaled(net, x.flip(-1), 1.0).float(), dim=1).flip(-1))
            conf, cls = probs[0].max(dim=0)
            keep = (conf >= threshold) & (cls != ignore_index)
            mask = torch.where(keep, cls, torch.full_like(cls, ignore_index)).to(torch.uint8).cpu().numpy()
            out.names.append(name)
            out.images.append(image)
            out.masks.append(mask)
            out.kept += int(keep.sum())
            out.pixels += int(keep.numel())
    finally:
        net.train(was_training)
    out.seconds = time.monotonic() - t0
    return out


class PseudoLabelled(SegmentationDataset):
    """Pseudo-labelled images (in memory) through the same augmentation and normalisation as the
    corrected ones."""

    def __init__(self, labels: PseudoLabels, num_classes: int, transform, norm: dict, paths: list[Path]):
        super().__init__([(p, p) for p in paths[:len(labels.names)]], num_classes, transform, norm=norm, cache=False)
        self.labels = labels

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.labels.images[index], self.labels.masks[index]


class Mixed(Dataset):
    """As long as ``corrected``: item i is a random pseudo-labelled image with probability ``share``,
    otherwise corrected item i (so steps per epoch, and the schedule, stay as they were)."""

    def __init__(self, corrected: Dataset, pseudo: Dataset, share: float):
        self.corrected, self.pseudo, self.share = corrected, pseudo, float(share)

    def __len__(self) -> int:
        return len(self.corrected)

    def __getitem__(self, index: int):
        if len(self.pseudo) and float(torch.rand(())) < self.share:
            return self.pseudo[int(torch.randint(len(self.pseudo), ()))]
        return self.corrected[index]


class SelfTraining:
    """The pseudo-label step of one training run (model.training.train calls ``due`` at every epoch end and ``run``
    once when it is due)."""

    def __init__(self, project, cfg, train_names: list[str], val_names: list[str], norm: dict, ignore_index: int,
                 emit: Callable[[dict], None]):
        self.project, self.cfg, self.norm, self.ignore, self.emit = project, cfg, norm, ignore_index, emit
        self.enabled = cfg.pseudo_labels == "confident"
        # benchmark knobs (TrainConfig.extra); the module's constants are the measured choice
        extra = cfg.extra or {}
        self.start = float(extra.get("pseudo_start", START_FRACTION))
        self.share = float(extra.get("pseudo_share", PSEUDO_SHARE))
        self.flip = bool(extra.get("pseudo_flip", True))
        candidates = unlabelled_names(project, [*train_names, *val_names]) if self.enabled else []
        self.names = spread(candidates, int(extra.get("pseudo_max_images", MAX_IMAGES)))
        self.candidates = len(candidates)
        self.done = False
        self.summary: dict | None = None
        if self.enabled and not self.names:
            emit({"event": "notice", "message": "pseudo-labels: the project has no unlabelled images; "
                                                "training on the corrected masks only"})

    @property
    def pending(self) -> bool:
        return self.enabled and bool(self.names) and not self.done

    def due(self, epoch: int, total_epochs: int, used_s: float) -> bool:
        """Time to pseudo-label: the first part of the run is over and at least one epoch remains."""
        if not self.pending or epoch >= total_epochs:
            return False
        budget = self.cfg.time_budget
        if budget:
            return used_s >= self.start * budget
        return epoch >= max(1, math.ceil(self.start * total_epochs))

    def run(self, net: torch.nn.Module, corrected: Dataset, device, epoch: int) -> Mixed:
        cfg = self.cfg
        budget = cfg.time_budget
        deadline = time.monotonic() + TIME_SHARE * budget if budget else None
        paths = [self.project.image_path(n) for n in self.names]
        labels = pseudo_label(net, paths, self.names, self.norm, cfg.scale, cfg.pseudo_threshold, self.ignore,
                              device, deadline, self.flip)
        self.done = True
        transform = getattr(corrected, "transform", None)
        pseudo = PseudoLabelled(labels, getattr(corrected, "num_classes", 0), transform, self.norm, paths)
        self.summary = {"mode": cfg.pseudo_labels, "threshold": cfg.pseudo_threshold, "after_epoch": epoch,
                        "unlabelled_images": self.candidates, "images": len(labels.names),
                        "kept_share": round(labels.kept_share, 4), "seconds": round(labels.seconds, 1),
                        "sample_share": self.share, "start_fraction": self.start, "flip": self.flip}
        self.emit({"event": "notice", "message": (
            f"pseudo-labels: {len(labels.names)} of {self.candidates} unlabelled images predicted in "
            f"{labels.seconds:.0f} s, {100 * labels.kept_share:.0f} % of their pixels confident >= "
            f"{cfg.pseudo_threshold:g}; training on corrected + pseudo-labelled images from epoch {epoch + 1}")})
        return Mixed(corrected, pseudo, self.share)


__all__ = ["MAX_IMAGES", "PSEUDO_SHARE", "START_FRACTION", "TIME_SHARE", "Mixed", "PseudoLabelled", "PseudoLabels",
           "SelfTraining", "pseudo_label", "spread", "unlabelled_names", "working_image"]

"""Video propagation as extra training pairs (no Qt): Zhu et al., CVPR 2019, "Improving Semantic Segmentation via
Video Propagation and Label Relaxation".

With ``TrainConfig.propagated_neighbours = k`` (k > 0) a retrain, before its first step,

1. finds for each corrected training frame the ``k`` nearest frames before it and after it in its sequence (the
   project's ``sequence_regex`` setting, ``model.inference.propagate.FrameIndex``), at most MAX_FRAME_GAP frame
   numbers away, that nobody has corrected (status "none"/"proposed"; never a valid.txt/test.txt image, never a
   hold-out image, never a frame at least as near one of those as its source, which would leak into the
   validation figure); a frame that neighbours two corrected frames takes the nearer one (the earlier on a tie);
2. moves the corrected mask onto that frame along the optical flow (``warp_with_fit``) and keeps the pair only
   where the warp fits (``fit_check``: the same guard the neighbour proposals use);
3. trains on the corrected pairs plus these pairs, through the same scaling and augmentation. In a band of
   ``RELAX_RADIUS`` pixels (at the working scale) around each warped boundary the target is *relaxed*: the loss is
   ``-log`` of the summed softmax over the classes present in the window (``model.nets.losses.relaxed_ce``), since
   a warp moves boundaries by a pixel or two. Void pixels of the warped mask are ignored as usual.

Warping stops at TIME_SHARE of the time budget (it counts against the budget like the training steps; the
schedule is planned from measured steps over the whole, larger, epoch, so the run still ends on time).

A warped mask is a derived training input, never ground truth: it lives in memory only, is never written into
``labels/`` (or anywhere), never shown, never counted as corrected, and the frames it lands on keep their status.
The model card records what was used under ``training.propagated`` (pairs, candidates, rejected warps, seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import ConcatDataset

from model.images.imageio import read_image
from model.inference.propagate import MAX_FRAME_GAP, FrameIndex, fit_check, warp_with_fit
from model.nets.losses import RELAX_FLAG, RELAX_RADIUS
from model.project.layout import project_group_regex

from .data import SegmentationDataset
from .semisup import UNLABELLED, working_image

TIME_SHARE = 0.15  # at most this share of the time budget spent warping


def neighbour_targets(project, train_names: list[str], exclude, k: int) -> list[tuple[str, str, int]]:
    """(target, source, gap) pairs: for each corrected ``train_names`` frame up to ``k`` frames on each side in its
    sequence, at most MAX_FRAME_GAP away, that are unlabelled and not in ``exclude``/valid.txt/test.txt nor at
    least as near one of those as to their source; one pair
    per target (the nearest source), ordered by gap so the nearest warps are made first."""
    if k <= 0:
        return []
    names = project.names()
    regex = project_group_regex(project)
    index = FrameIndex(names, regex)
    statuses = project.statuses()
    held = set(exclude) | project.valid_names() | project.test_names()
    skip = held | set(train_names)
    held_frames = [n for n in held if index.gap(n, n) is not None]  # those with a place in a sequence
    best: dict[str, tuple[int, int, str]] = {}
    for order, source in enumerate(train_names):
        for direction in (0, 1):
            current = source
            for _ in range(k):
                current = index.neighbours(current)[direction]
                if current is None:
                    break
                gap = index.gap(source, current)
                if gap is None or gap > MAX_FRAME_GAP:
                    break
                if current in skip or statuses.get(current) not in UNLABELLED:
                    continue
                near = (index.gap(current, h) for h in held_frames)
                if any(g is not None and g <= gap for g in near):
                    continue  # as near a validation/test frame as its source: it would leak into the scores
                if current not in best or (gap, order) < best[current][:2]:
                    best[current] = (gap, order, source)
    ranked = sorted((gap, order, target, source) for target, (gap, order, source) in best.items())
    return [(target, source, gap) for gap, _, target, source in ranked]


def boundary_band(mask: np.ndarray, radius: int = RELAX_RADIUS, ignore_index: int | None = None) -> np.ndarray:
    """Pixels whose (2 * radius + 1)^2 window holds more than one class (``ignore_index`` pixels do not count)."""
    t = torch.from_numpy(np.ascontiguousarray(mask).astype(np.int64))[None, None].float()
    size = 2 * radius + 1
    big = 1e6
    if ignore_index is not None:
        ignored = t == ignore_index
        hi = F.max_pool2d(torch.where(ignored, torch.full_like(t, -big), t), size, 1, radius)
        lo = -F.max_pool2d(torch.where(ignored, torch.full_like(t, -big), -t), size, 1, radius)
        band = (hi != lo) & (hi > -big) & (lo < big)
    else:
        band = F.max_pool2d(t, size, 1, radius) != -F.max_pool2d(-t, size, 1, radius)
    return band[0, 0].numpy()


def relax(mask: np.ndarray, ignore_index: int, radius: int = RELAX_RADIUS, num_classes: int | None = None) -> np.ndarray:
    """The warped ``mask`` as a training target: band pixels (``boundary_band``) flagged as class + RELAX_FLAG (the
    loss relaxes them); with RELAX_FLAG or more classes, the band is ignored instead (the fallback)."""
    band = boundary_band(mask, radius, ignore_index) & (mask != ignore_index)
    out = mask.astype(np.uint8).copy()
    if num_classes is not None and num_classes >= RELAX_FLAG:
        out[band] = ignore_index
    else:
        out[band] = out[band] + RELAX_FLAG
    return out


class PropagatedPairs(SegmentationDataset):
    """Warped pairs held in memory (images at the working scale, relaxed targets), through the same augmentation
    and normalisation as the corrected pairs. Reads image files only; writes nothing."""

    def __init__(self, images: list[np.ndarray], masks: list[np.ndarray], num_classes: int, transform, norm: dict):
        super().__init__([], num_classes, transform, norm=norm, cache=False)
        self.images, self.masks = images, masks

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[index], self.masks[index]


class WithPropagated(ConcatDataset):
    """The corrected pairs followed by the propagated ones; looks like the corrected set to the rest of training
    (transform, class counts of the corrected masks)."""

    def __init__(self, corrected: SegmentationDataset, propagated: PropagatedPairs):
        super().__init__([corrected, propagated])
        self.corrected, self.propagated = corrected, propagated
        self.transform, self.num_classes = corrected.transform, corrected.num_classes

    def class_pixel_counts(self) -> np.ndarray:
        return self.corrected.class_pixel_counts()

    def raw(self, index: int):
        return self.corrected.raw(index)


def build_propagated(project, cfg, train_names: list[str], exclude, norm: dict, ignore_index: int, transform,
                     num_classes: int, emit: Callable[[dict], None] = lambda e: None,
                     deadline: float | None = None) -> tuple[PropagatedPairs, dict]:
    """(propagated pairs, card summary) for ``cfg.propagated_neighbours``; stops warping at ``deadline``
    (time.monotonic()) after at least one pair."""
    t0 = time.monotonic()
    k = int(cfg.propagated_neighbours or 0)
    candidates = neighbour_targets(project, train_names, exclude, k)
    images, masks, used, rejected, skipped = [], [], [], 0, 0
    for target, source, gap in candidates:
        if deadline is not None and (used or rejected) and time.monotonic() > deadline:
            skipped = len(candidates) - len(used) - rejected
            break
        source_image, source_mask = read_image(project.image_path(source)), project.load_mask(source)
        target_image = read_image(project.image_path(target))
        if source_mask is None or target_image.shape[:2] != source_image.shape[:2] \
                or np.shape(source_mask) != target_image.shape[:2]:
            rejected += 1
            continue
        warped, _, fit, null_fit = warp_with_fit(source_image, source_mask, target_image)
        if not fit_check(fit, null_fit):
            rejected += 1
            continue
        image = working_image(project.image_path(target), norm, cfg.scale)
        if warped.shape != image.shape[:2]:
            warped = np.asarray(Image.fromarray(warped.astype(np.uint8)).resize((image.shape[1], image.shape[0]),
                                                                                 Image.NEAREST))
        images.append(image)
        masks.append(relax(warped, ignore_index, RELAX_RADIUS, num_classes))
        used.append({"image": target, "from": source, "gap": gap, "fit": round(fit, 3)})
    seconds = time.monotonic() - t0
    summary = {"neighbours": k, "pairs": len(used), "candidates": len(candidates), "rejected_by_fit": rejected,
               "skipped_for_time": skipped, "seconds": round(seconds, 1), "relax_radius": RELAX_RADIUS,
               "relaxation": "union of classes in window" if num_classes < RELAX_FLAG else "ignored band",
               "used": used, "note": "derived training inputs (corrected masks warped by optical flow); never "
                                     "saved as masks, never counted as corrected"}
    emit({"event": "notice", "message": (
        f"video propagation: {len(used)} of {len(candidates)} neighbouring unlabelled frames get a corrected mask "
        f"warped onto them ({rejected} did not fit, {skipped} skipped for time) in {seconds:.0f} s; training on "
        f"{len(train_names)} corrected + {len(used)} propagated pairs")})
    return PropagatedPairs(images, masks, num_classes, transform, norm), summary


def propagated_names(summary: dict | None) -> list[str]:
    """The images a run trained on through propagated pairs (for the card's seen_images)."""
    return [u["image"] for u in (summary or {}).get("used", [])]


__all__ = ["TIME_SHARE", "PropagatedPairs", "WithPropagated", "boundary_band", "build_propagated",
           "neighbour_targets", "propagated_names", "relax"]

"""A torch Dataset over (image, mask) file pairs, decoded with model.images.imageio and cached in RAM when small."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from model.errors import DatasetError
from model.images.imageio import image_size, read_mask, read_raw
from model.nets import normalization as nz
from model.nets.tiling import to_working

from .augment import eval_transform, normalize, to_tv, train_transform

CACHE_LIMIT_BYTES = 2 << 30  # decoded images + masks kept in memory up to 2 GiB


def to_working_scale(image: np.ndarray, norm: dict, scale: float) -> np.ndarray:
    """A prepared image (``normalization.prepare``) as training sees it: 8-bit RGB for "imagenet"
    normalisation (normalised later, after augmentation), normalised float32 bands otherwise; resized to
    ``scale`` (antialiased when shrinking) by inference's resampler. The one step every training image takes, corrected or
    pseudo-labelled (model.training.semisup)."""
    rgb8 = nz.kind(norm) == "imagenet"
    if not rgb8:
        image = nz.apply(image, norm)
    if scale != 1.0:  # the resampler inference uses (model.nets.tiling.to_working), never a second one
        image = np.ascontiguousarray(image)
        if not image.flags.writeable:  # a decoded image may be read-only; torch only reads it, but warns
            image = image.copy()
        t = torch.from_numpy(image).permute(2, 0, 1)[None]
        t = to_working(t.float() if rgb8 else t, scale)[0].permute(1, 2, 0)
        image = (t.round().clamp_(0, 255).to(torch.uint8) if rgb8 else t.contiguous()).numpy()
    return image


class SegmentationDataset(Dataset):
    """Items are ``(image float32 (C, H, W) normalised, mask int64 (H, W))`` after ``transform``.

    ``norm``: the model card's normalisation (``model.nets.normalization``); without it ``mean``/``std``
    on 8-bit RGB (ImageNet). "imagenet" images are 8-bit RGB through the transform, then normalised;
    "robust" images (any dtype/bands) are normalised on load and transformed as floats.
    ``scale`` resizes each pair once on load (image antialiased, mask nearest) to the scale the network
    works at (the model card's ``input_scale``); decoded pairs are cached in RAM when the whole set fits
    under CACHE_LIMIT_BYTES.
    """

    def __init__(self, pairs: list[tuple[Path, Path]], num_classes: int, transform=None, *,
                 mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), scale: float = 1.0,
                 cache: bool | None = None, norm: dict | None = None):
        self.pairs = [(Path(i), Path(m)) for i, m in pairs]
        self.num_classes = num_classes
        self.transform = transform
        self.norm = dict(norm) if norm is not None else dict(nz.imagenet(), mean=list(mean), std=list(std))
        self.rgb8 = nz.kind(self.norm) == "imagenet"
        self.mean, self.std = self.norm.get("mean", mean), self.norm.get("std", std)
        self.scale = float(scale)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._raw_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if cache is None:
            cache = self._estimated_bytes() <= CACHE_LIMIT_BYTES
        self.cache = cache

    def _estimated_bytes(self) -> int:
        if not self.pairs:
            return 0
        w, h = image_size(self.pairs[0][0])
        per_pixel = 4 if self.rgb8 else 1 + 4 * nz.channels(self.norm)
        return int(len(self.pairs) * w * h * per_pixel * self.scale**2)

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Decoded (and base-resized) image and mask (H, W): (H, W, 3) uint8 RGB for "imagenet",
        (H, W, C) float32 already normalised for "robust"."""
        if index in self._cache:
            return self._cache[index]
        image_path, mask_path = self.pairs[index]
        try:
            image = nz.prepare(read_raw(image_path), self.norm, image_path)
        except ValueError as exc:
            raise DatasetError(None, str(exc)) from None
        mask = read_mask(mask_path, self.num_classes, expected_size=(image.shape[1], image.shape[0]))
        image = to_working_scale(image, self.norm, self.scale)
        if self.scale != 1.0:
            mask = np.asarray(Image.fromarray(mask).resize((image.shape[1], image.shape[0]), Image.NEAREST))
        if self.cache:
            self._cache[index] = (image, mask)
        return image, mask

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The image as stored (``imageio.read_raw``) and its mask, at full resolution, for scoring
        through the Predictor (the same path as proposals and ``evaluate``)."""
        if index in self._raw_cache:
            return self._raw_cache[index]
        image_path, mask_path = self.pairs[index]
        image = read_raw(image_path)
        pair = image, read_mask(mask_path, self.num_classes, expected_size=(image.shape[1], image.shape[0]))
        if self.cache:
            self._raw_cache[index] = pair
        return pair

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.load(index)
        img, msk = to_tv(image, mask)
        if self.transform is not None:
            img, msk = self.transform(img, msk)
        img = img.as_subclass(torch.Tensor)
        img = normalize(img, self.mean, self.std) if self.rgb8 else img.float()
        return img, msk.as_subclass(torch.Tensor).long()

    def class_pixel_counts(self) -> np.ndarray:
        counts = np.zeros(256, dtype=np.int64)
        for i in range(len(self)):
            counts += np.bincount(self.load(i)[1].ravel(), minlength=256)
        return counts


def build_datasets(project, cfg, train_names: list[str], val_names: list[str], norm: dict, ignore_index: int):
    """(training set with augmentation, validation set at full resolution or None) for a Project."""
    size = tuple(cfg.size)
    rgb8 = nz.kind(norm) == "imagenet"
    tf = (train_transform(size, ignore_index, zoom=tuple(cfg.zoom), rotation=cfg.rotation, color=cfg.color_jitter,
                          rgb8=rgb8)
          if cfg.augment else eval_transform(size, ignore_index))
    pairs = [(project.image_path(n), project.label_path(n)) for n in train_names]
    n = len(project.codes)
    train = SegmentationDataset(pairs, n, tf, scale=cfg.scale, norm=norm)
    val = None
    if cfg.validate and val_names:
        vpairs = [(project.image_path(v), project.label_path(v)) for v in val_names]
        val = SegmentationDataset(vpairs, n, None, norm=norm)  # scored at full size from .raw()
    return train, val


def make_loader(dataset, batch_size: int, cfg, dist, device: torch.device) -> DataLoader:
    """Shuffled loader (DistributedSampler under DDP); batch never larger than a rank's share, and no
    last batch of a single image (BatchNorm needs two)."""
    sampler = (DistributedSampler(dataset, dist.world, dist.rank, shuffle=True, seed=cfg.seed)
               if dist.enabled else None)
    per_rank = math.ceil(len(dataset) / dist.world)
    batch_size = max(1, min(batch_size, per_rank))
    workers = cfg.num_workers or 0
    return DataLoader(dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                      drop_last=per_rank % batch_size == 1 and per_rank > 1, num_workers=workers,
                      pin_memory=device.type == "cuda", persistent_workers=workers > 0)


def split_names(project) -> tuple[list[str], list[str], str | None]:
    """(train, validation, notice) from the corrected masks: test.txt images are never used, valid.txt
    images are never trained on (Project.training_names holds the rule)."""
    train, val = project.training_names()
    if not train:
        if val:
            raise DatasetError(project.root / "valid.txt", "every corrected image is listed here or in test.txt; "
                                                           "nothing is left to train on (validation images are "
                                                           "never trained on): correct more images")
        raise DatasetError(project.root, "no corrected masks to train on; correct (or accept) some masks first")
    return train, val, None

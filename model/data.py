"""A torch Dataset over (image, mask) file pairs, decoded with model.imageio and cached in RAM when small."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .augment import eval_transform, normalize, scaled_size, to_tv, train_transform
from .errors import DatasetError
from .imageio import read_image, read_mask

CACHE_LIMIT_BYTES = 2 << 30  # decoded images + masks kept in memory up to 2 GiB


class SegmentationDataset(Dataset):
    """Items are ``(image float32 (3, H, W) normalised, mask int64 (H, W))`` after ``transform``.

    ``scale`` resizes each pair once on load (image antialiased, mask nearest) to the scale the network
    works at (the model card's ``input_scale``); decoded pairs are cached in RAM when the whole set fits
    under CACHE_LIMIT_BYTES.
    """

    def __init__(self, pairs: list[tuple[Path, Path]], num_classes: int, transform=None, *,
                 mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), scale: float = 1.0,
                 cache: bool | None = None):
        self.pairs = [(Path(i), Path(m)) for i, m in pairs]
        self.num_classes = num_classes
        self.transform = transform
        self.mean, self.std = mean, std
        self.scale = float(scale)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if cache is None:
            cache = self._estimated_bytes() <= CACHE_LIMIT_BYTES
        self.cache = cache

    def _estimated_bytes(self) -> int:
        if not self.pairs:
            return 0
        with Image.open(self.pairs[0][0]) as im:
            w, h = im.size
        return int(len(self.pairs) * w * h * 4 * self.scale**2)

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Decoded (and base-resized) uint8 image (H, W, 3) and mask (H, W)."""
        if index in self._cache:
            return self._cache[index]
        image_path, mask_path = self.pairs[index]
        image = read_image(image_path)
        mask = read_mask(mask_path, self.num_classes, expected_size=(image.shape[1], image.shape[0]))
        if self.scale != 1.0:
            h, w = scaled_size(image.shape[0], image.shape[1], self.scale)
            image = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR, reducing_gap=None))
            mask = np.asarray(Image.fromarray(mask).resize((w, h), Image.NEAREST))
        if self.cache:
            self._cache[index] = (image, mask)
        return image, mask

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.load(index)
        img, msk = to_tv(image, mask)
        if self.transform is not None:
            img, msk = self.transform(img, msk)
        return normalize(img.as_subclass(torch.Tensor), self.mean, self.std), msk.as_subclass(torch.Tensor).long()

    def class_pixel_counts(self) -> np.ndarray:
        counts = np.zeros(256, dtype=np.int64)
        for i in range(len(self)):
            counts += np.bincount(self.load(i)[1].ravel(), minlength=256)
        return counts


def build_datasets(project, cfg, train_names: list[str], val_names: list[str], norm: dict, ignore_index: int):
    """(training set with augmentation, validation set at full resolution or None) for a Project."""
    size = tuple(cfg.size)
    tf = (train_transform(size, ignore_index, zoom=tuple(cfg.zoom), rotation=cfg.rotation, color=cfg.color_jitter)
          if cfg.augment else eval_transform(size, ignore_index))
    pairs = [(project.image_path(n), project.label_path(n)) for n in train_names]
    n = len(project.codes)
    train = SegmentationDataset(pairs, n, tf, mean=norm["mean"], std=norm["std"], scale=cfg.scale)
    val = None
    if cfg.validate and val_names:
        vpairs = [(project.image_path(v), project.label_path(v)) for v in val_names]
        val = SegmentationDataset(vpairs, n, None, mean=norm["mean"], std=norm["std"])  # scored at full size
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

"""Joint image + mask augmentation with torchvision.transforms.v2.

The mask travels as ``tv_tensors.Mask`` so every geometric transform uses nearest-neighbour for it,
colour transforms leave it alone, and whatever a transform uncovers is filled with the ignore index
(Void) in the mask and black in the image.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

# When the classes have no Void, uncovered mask pixels get this index, which the loss ignores too.
NO_VOID_IGNORE = 255


def ignore_index_for(void_index: int | None) -> int:
    return NO_VOID_IGNORE if void_index is None else int(void_index)


def _fill(ignore_index: int) -> dict:
    return {tv_tensors.Image: 0, tv_tensors.Mask: ignore_index}


def train_transform(size: tuple[int, int], ignore_index: int, *, min_scale: float = 0.35,
                    rotation: float = 10.0, flip: bool = True, color: bool = True,
                    aspect: float | None = None) -> v2.Transform:
    """Random resized crop to ``size`` (H, W), flip, small rotation, colour jitter on the image only.

    ``aspect`` (W/H of the source images) centres the crop's aspect-ratio range so that crops are not
    squashed on average; default: that of ``size``.
    """
    h, w = size
    centre = aspect or (w / h)
    ratio = (centre * 3 / 4, centre * 4 / 3)
    fill = _fill(ignore_index)
    steps: list[v2.Transform] = [
        v2.RandomResizedCrop((h, w), scale=(min_scale, 1.0), ratio=ratio, antialias=True),
    ]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    if rotation:
        steps.append(v2.RandomApply([v2.RandomRotation(rotation, fill=fill)], p=0.5))
    if color:
        steps.append(v2.RandomApply([v2.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.25, hue=0.02)], p=0.8))
    return v2.Compose(steps)


def eval_transform(size: tuple[int, int]) -> v2.Transform:
    """Resize the whole image to the network input size (H, W) (the mask nearest-neighbour)."""
    return v2.Resize(tuple(size), antialias=True)


def pad_to_multiple(x: torch.Tensor, multiple: int = 32, value: float = 0.0) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad the last two dims (bottom/right) up to a multiple; returns the padded tensor and original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = math.ceil(h / multiple) * multiple - h, math.ceil(w / multiple) * multiple - w
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), value=value)
    return x, (h, w)


def to_tv(image: np.ndarray, mask: np.ndarray | None) -> tuple[tv_tensors.Image, tv_tensors.Mask | None]:
    """(H, W, 3) uint8 + (H, W) uint8 arrays -> tv_tensors (C, H, W) uint8 image and (H, W) mask."""
    img = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
    msk = None if mask is None else tv_tensors.Mask(torch.from_numpy(np.ascontiguousarray(mask)))
    return img, msk


def normalize(image_uint8: torch.Tensor, mean, std) -> torch.Tensor:
    """(…, 3, H, W) uint8 -> float32 normalised with the model card's mean/std (input range 0..1)."""
    x = image_uint8.float().div_(255.0)
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x - mean_t) / std_t


def prepare_image(image: np.ndarray, size: tuple[int, int], mean, std) -> torch.Tensor:
    """What a trained network expects for a whole image: resized to ``size``, normalised, (1, 3, H, W)."""
    img, _ = to_tv(image, None)
    img = F.resize(img, list(size), antialias=True)
    return normalize(img, mean, std).unsqueeze(0)

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

from model.nets.tiling import scaled_size  # noqa: F401 - the one rounding rule, importable from here

# When the classes have no Void, uncovered mask pixels get this index, which the loss ignores too.
NO_VOID_IGNORE = 255


def ignore_index_for(void_index: int | None) -> int:
    return NO_VOID_IGNORE if void_index is None else int(void_index)


def _fill(ignore_index: int) -> dict:
    return {tv_tensors.Image: 0, tv_tensors.Mask: ignore_index}


class RandomZoom:
    """Resize image and mask together by a random factor in ``zoom`` (log-uniform); the mask nearest."""

    def __init__(self, zoom: tuple[float, float]):
        self.low, self.high = float(zoom[0]), float(zoom[1])

    def __call__(self, *inputs):
        image, mask = inputs if len(inputs) == 2 else (inputs[0], None)
        factor = math.exp(torch.empty(1).uniform_(math.log(self.low), math.log(self.high)).item())
        h, w = image.shape[-2:]
        size = [max(1, round(h * factor)), max(1, round(w * factor))]
        image = F.resize(image, size, antialias=True)
        return (image, F.resize(mask, size)) if mask is not None else image


class IntensityJitter:
    """Brightness/contrast jitter for normalised float images of any number of bands (the colour
    jitter of 8-bit RGB does not apply to 16-bit or multi-band data): ``x * gain + shift`` with one
    random gain and shift per image, the mask untouched."""

    def __init__(self, gain: float = 0.25, shift: float = 0.25):
        self.gain, self.shift = float(gain), float(shift)

    def __call__(self, *inputs):
        image, mask = inputs if len(inputs) == 2 else (inputs[0], None)
        gain = math.exp(torch.empty(1).uniform_(-self.gain, self.gain).item())
        shift = torch.empty(1).uniform_(-self.shift, self.shift).item()
        image = tv_tensors.wrap(image.as_subclass(torch.Tensor) * gain + shift, like=image)
        return (image, mask) if mask is not None else image


def train_transform(size: tuple[int, int], ignore_index: int, *, zoom: tuple[float, float] = (0.75, 1.33),
                    rotation: float = 10.0, flip: bool = True, color: bool = True,
                    rgb8: bool = True) -> v2.Transform:
    """Random zoom around the training scale, random crop of ``size`` (H, W) (padded with Void where the
    image is smaller), horizontal flip, small rotation, colour jitter on the image only.

    ``rgb8``: the image is 8-bit RGB (torchvision's colour jitter, then normalised); otherwise it is an
    already normalised float image of any bands (``IntensityJitter``; padding 0 is the data's mean).

    Objects keep (on average) the scale the images are predicted at, so the network never has to
    generalise across a zoom that only training applied.
    """
    fill = _fill(ignore_index)
    steps: list = []
    if zoom and tuple(zoom) != (1.0, 1.0):
        steps.append(RandomZoom(zoom))
    steps.append(v2.RandomCrop(tuple(size), pad_if_needed=True, fill=fill))
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    if rotation:
        steps.append(v2.RandomApply([v2.RandomRotation(rotation, fill=fill)], p=0.5))
    if color and rgb8:
        steps.append(v2.RandomApply([v2.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.25, hue=0.02)], p=0.8))
    elif color:
        steps.append(v2.RandomApply([IntensityJitter()], p=0.8))
    return v2.Compose(steps)


class CenterCropPad:
    """Centre crop to ``size`` (H, W), padding first (black image, ignore-index mask) where smaller."""

    def __init__(self, size: tuple[int, int], ignore_index: int):
        self.size, self.ignore_index = (int(size[0]), int(size[1])), ignore_index

    def __call__(self, *inputs):
        image, mask = inputs if len(inputs) == 2 else (inputs[0], None)
        h, w = image.shape[-2:]
        ph, pw = max(0, self.size[0] - h), max(0, self.size[1] - w)
        if ph or pw:
            padding = [pw // 2, ph // 2, pw - pw // 2, ph - ph // 2]
            image = F.pad(image, padding, fill=0)
            mask = F.pad(mask, padding, fill=self.ignore_index) if mask is not None else None
        image = F.center_crop(image, list(self.size))
        return (image, F.center_crop(mask, list(self.size))) if mask is not None else image


def eval_transform(size: tuple[int, int], ignore_index: int) -> CenterCropPad:
    """Training without augmentation: a deterministic centre crop of ``size`` (H, W)."""
    return CenterCropPad(size, ignore_index)


def to_tv(image: np.ndarray, mask: np.ndarray | None) -> tuple[tv_tensors.Image, tv_tensors.Mask | None]:
    """(H, W, C) image (uint8 or float32) + (H, W) uint8 mask -> tv_tensors (C, H, W) image and (H, W) mask."""
    image = image if image.flags.writeable and image.flags.c_contiguous else np.array(image)
    img = tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1))
    if mask is not None and not (mask.flags.writeable and mask.flags.c_contiguous):
        mask = np.array(mask)
    msk = None if mask is None else tv_tensors.Mask(torch.from_numpy(mask))
    return img, msk


def normalize(image_uint8: torch.Tensor, mean, std) -> torch.Tensor:
    """(…, 3, H, W) uint8 -> float32 normalised with the model card's mean/std (input range 0..1)."""
    x = image_uint8.float().div_(255.0)
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x - mean_t) / std_t

"""Intensity normalisation of the network's input: one rule for training, proposals and evaluation.

A model card's ``normalization`` is one of two kinds:

* ``"imagenet"`` (also every card written before this key existed): 8-bit RGB divided by 255, then
  ImageNet mean/std, what smp's pretrained encoders expect. Images that are not 8-bit RGB are made so
  as labeltool always did (grey repeated, alpha and extra bands dropped, 16-bit stretched by the
  image's maximum), so old models keep working unchanged.
* ``"robust"``: any dtype and any number of bands. Per channel, the 1st and 99th percentiles
  (``low``/``high``) of a sample of the training images, computed once when a model is first trained,
  map the data to about 0..1 (clipped to -1..2 so hot pixels cannot dominate); then that scaled
  sample's ``mean``/``std`` centre it. The network has ``channels`` input bands.

8-bit RGB data gets "imagenet" (pretrained encoders stay useful); everything else (grey, 16-bit,
float, 2 or 4+ bands) gets "robust". Both are a per-channel affine map ``x * a + b`` (then a clip),
``input_affine``, applied on the device by the Predictor and by the training dataset alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.errors import DatasetError
from model.images.display import as_hwc
from model.images.imageio import read_raw

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PERCENTILES = (1.0, 99.0)
CLIP = (-1.0, 2.0)  # robust-scaled values outside this are clipped (in units of high - low)
SAMPLE_IMAGES = 16
SAMPLE_PIXELS = 250_000  # per image


def imagenet() -> dict:
    return {"kind": "imagenet", "channels": 3, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
            "input_range": [0, 1], "space": "RGB"}


def kind(norm: dict | None) -> str:
    """"imagenet" for cards without a kind (the old behaviour), else the card's kind."""
    return (norm or {}).get("kind", "imagenet")


def channels(norm: dict | None) -> int:
    """Input bands of the network a normalisation belongs to (3 for old cards)."""
    return 3 if kind(norm) == "imagenet" else int(norm["channels"])


def _imagenet_mean_std(norm: dict | None) -> tuple[list[float], list[float]]:
    norm = norm or {}
    try:
        mean = [float(v) for v in norm.get("mean", IMAGENET_MEAN)]
        std = [float(v) for v in norm.get("std", IMAGENET_STD)]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"normalization must hold 'mean' and 'std' lists of 3 numbers, got {norm!r}") from exc
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"normalization must hold 3 means and 3 positive stds, got {norm!r}")
    if max(mean) > 1.0 or max(std) > 1.0:  # given on the 0..255 scale
        mean = [m / 255.0 for m in mean]
        std = [s / 255.0 for s in std]
    return mean, std


def input_affine(norm: dict | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel float32 (a, b, lo, hi): the network input is ``clip(x * a + b, lo, hi)`` where x is
    the prepared image (``prepare``) as float."""
    if kind(norm) == "imagenet":
        mean, std = _imagenet_mean_std(norm)
        a = 1.0 / (255.0 * np.asarray(std))
        b = -np.asarray(mean) / np.asarray(std)
        inf = np.full(3, np.inf)
        return a.astype(np.float32), b.astype(np.float32), -inf.astype(np.float32), inf.astype(np.float32)
    if kind(norm) != "robust":
        raise ValueError(f"unknown normalization kind {kind(norm)!r}; expected 'imagenet' or 'robust'")
    try:
        low, high = np.asarray(norm["low"], float), np.asarray(norm["high"], float)
        mean, std = np.asarray(norm["mean"], float), np.asarray(norm["std"], float)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"robust normalization needs low, high, mean, std lists, got {norm!r}") from exc
    c = channels(norm)
    if not all(len(v) == c for v in (low, high, mean, std)) or min(std) <= 0 or np.any(high <= low):
        raise ValueError(f"robust normalization needs {c} values each with high > low and std > 0, got {norm!r}")
    span = high - low
    a = 1.0 / (span * std)
    b = -(low / span + mean) / std
    lo = (CLIP[0] - mean) / std
    hi = (CLIP[1] - mean) / std
    return tuple(v.astype(np.float32) for v in (a, b, lo, hi))  # type: ignore[return-value]


def legacy_rgb(raw: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 the way labeltool read every image before multi-band support (old models)."""
    raw = as_hwc(raw)
    if raw.dtype != np.uint8:
        data = raw.astype(np.float32)
        top = float(np.nanmax(data)) if data.size else 0.0
        top = top if top > 0 else 1.0
        raw = np.clip(data * (255.0 / top), 0, 255).astype(np.uint8)
    c = raw.shape[2]
    if c == 1:
        return np.repeat(raw, 3, axis=2)
    if c >= 3:
        return raw[:, :, :3]
    raise ValueError(f"a model trained on RGB images cannot take an image with {c} channels")


def prepare(raw: np.ndarray, norm: dict | None, where: str | Path = "image") -> np.ndarray:
    """The (H, W, C) array the affine map applies to: 8-bit RGB for "imagenet", the data as it is
    (any dtype, ``channels`` bands) for "robust". ValueError naming ``where`` when bands differ."""
    raw = as_hwc(raw, where)
    if kind(norm) == "imagenet":
        try:
            return legacy_rgb(raw)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    c = channels(norm)
    if raw.shape[2] != c:
        raise ValueError(f"{where}: has {raw.shape[2]} channels but the model takes {c}")
    return raw


def to_float(prepared: np.ndarray) -> np.ndarray:
    """uint8 stays (cheap to move to a device); other dtypes become float32."""
    return prepared if prepared.dtype in (np.uint8, np.float32) else prepared.astype(np.float32)


def apply(prepared: np.ndarray, norm: dict | None) -> np.ndarray:
    """Normalised float32 (H, W, C) in numpy (the torch paths do the same on the device)."""
    a, b, lo, hi = input_affine(norm)
    return np.clip(prepared.astype(np.float32) * a + b, lo, hi)


def _sample(raw: np.ndarray, pixels: int) -> np.ndarray:
    step = max(1, int(np.ceil(np.sqrt(raw.shape[0] * raw.shape[1] / pixels))))
    return raw[::step, ::step].reshape(-1, raw.shape[2]).astype(np.float64)


def for_dataset(paths: Sequence[str | Path], *, sample_images: int = SAMPLE_IMAGES,
                sample_pixels: int = SAMPLE_PIXELS, percentiles: tuple[float, float] = PERCENTILES) -> dict:
    """The normalisation for a new model on these training images: "imagenet" when the first image is
    8-bit RGB, else "robust" statistics from up to ``sample_images`` images spread over the list.
    Every sampled image must have the first one's bands (DatasetError naming the file otherwise)."""

    paths = [Path(p) for p in paths]
    if not paths:
        raise DatasetError(None, "no training images to compute the input normalisation from")
    first = read_raw(paths[0])
    if first.dtype == np.uint8 and first.shape[2] == 3:
        return imagenet()
    picks = sorted(set(np.linspace(0, len(paths) - 1, min(sample_images, len(paths))).round().astype(int)))
    samples = []
    for i in picks:
        raw = first if i == 0 else read_raw(paths[i])
        if raw.shape[2] != first.shape[2] or raw.dtype.kind != first.dtype.kind:
            raise DatasetError(paths[i], f"has {raw.shape[2]} {raw.dtype} channels but {paths[0].name} has "
                                         f"{first.shape[2]} {first.dtype}; a dataset's images must all have the "
                                         "same bands")
        samples.append(_sample(raw, sample_pixels))
    data = np.concatenate(samples)
    data = np.where(np.isfinite(data), data, np.nan)
    low = np.nanpercentile(data, percentiles[0], axis=0)
    high = np.nanpercentile(data, percentiles[1], axis=0)
    flat = high <= low  # a constant channel: keep it finite
    high = np.where(flat, low + 1.0, high)
    scaled = np.clip((data - low) / (high - low), *CLIP)
    mean = np.nanmean(scaled, axis=0)
    std = np.nanstd(scaled, axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    return {"kind": "robust", "channels": int(first.shape[2]), "dtype": str(first.dtype),
            "percentiles": list(percentiles), "low": low.tolist(), "high": high.tolist(),
            "mean": mean.tolist(), "std": std.tolist(), "clip": list(CLIP),
            "sampled_images": len(picks)}


def for_training(paths: Sequence[str | Path], init_card: dict | None = None) -> dict:
    """A fine-tuned model keeps its card's normalisation (computed once); a new one gets ``for_dataset``."""
    if init_card is not None:
        return dict(init_card.get("normalization") or imagenet())
    return for_dataset(paths)

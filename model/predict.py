"""Running a segmentation network over images: class masks plus per-pixel confidence.

``Predictor`` wraps a loaded model (or any nn.Module mapping (B, 3, H, W) floats to (B, C, H, W)
logits). Images of one size are batched; images larger than ``TileConfig.max_side`` go through
sliding-window tiling (``model.tiling``) in bounded memory. Inputs are padded to a multiple of 32
and the outputs cropped back. Optional horizontal-flip test-time augmentation averages the
probabilities of the image and of its mirror (mirrored back). CUDA with autocast when available,
otherwise CPU; always inference mode, channels-last memory layout and BatchNorm folded into the
convolutions (see benchmarks/README_inference.md for what each buys).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .fuse import fold_batchnorm_checked
from .networks import ScaledInput
from .tiling import TileConfig, pad_to_multiple, predict_tiled

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Prediction:
    mask: np.ndarray  # (H, W) uint8 class indices
    confidence: np.ndarray  # (H, W) float32, max softmax probability, 0..1
    entropy: np.ndarray | None = None  # (H, W) float32 nats, when asked for


def _normalization(card: dict | None, normalization: dict | None) -> tuple[list[float], list[float]]:
    norm = normalization if normalization is not None else (card or {}).get("normalization")
    if not norm:
        return list(IMAGENET_MEAN), list(IMAGENET_STD)
    try:
        mean = [float(v) for v in norm["mean"]]
        std = [float(v) for v in norm["std"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"normalization must hold 'mean' and 'std' lists of 3 numbers, got {norm!r}") from exc
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"normalization must hold 3 means and 3 positive stds, got {norm!r}")
    if max(mean) > 1.0 or max(std) > 1.0:  # given on the 0..255 scale
        mean = [m / 255.0 for m in mean]
        std = [s / 255.0 for s in std]
    return mean, std


def as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 view of a grey, RGB or RGBA uint8 array; ValueError for anything else."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[:, :, :3]
    raise ValueError(f"images must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Predictor:
    """Predict class masks and confidence for images (numpy (H, W, 3) uint8 arrays).

    ``model``: a LoadedModel (``.net`` and ``.card``) or a bare nn.Module. ``card``: the model card
    (its ``normalization`` is used; ImageNet statistics otherwise). ``tile``: a TileConfig, an int
    tile size, None for the defaults, or False never to tile. ``num_threads``: CPU threads for torch
    (left as is when None). ``channels_last``: memory layout (faster for ResNet encoders).
    ``scale``: resize factor before the network (default: the card's ``input_scale``, else 1).
    ``fuse_bn``: fold BatchNorm into the convolutions of a private copy of the network. ``amp``:
    autocast (default on for CUDA, float16; bfloat16 when forced on for CPU).
    """

    def __init__(
        self,
        model,
        card: dict | None = None,
        *,
        normalization: dict | None = None,
        device: str | torch.device | None = None,
        tta_flip: bool = False,
        tile: TileConfig | int | bool | None = None,
        batch_size: int = 4,
        with_entropy: bool = False,
        num_threads: int | None = None,
        channels_last: bool = True,
        amp: bool | None = None,
        fuse_bn: bool = True,
        scale: float | None = None,
    ):
        net = getattr(model, "net", model)
        if card is None:
            card = getattr(model, "card", None)
        if not isinstance(net, torch.nn.Module):
            raise TypeError(f"expected a LoadedModel or an nn.Module, got {type(model).__name__}")
        self.card = card or {}
        if isinstance(net, ScaledInput):
            # load_model wraps networks trained at input_scale != 1; the predictor scales (and tiles in
            # the scaled space) itself, so it takes the bare network: scaling twice shrinks objects twice.
            scale = net.scale if scale is None else scale
            net = net.net
        self.device = torch.device(device) if device is not None else default_device()
        self.tta_flip = bool(tta_flip)
        self.with_entropy = bool(with_entropy)
        self.batch_size = max(1, int(batch_size))
        if tile is None or tile is True:
            self.tile: TileConfig | None = TileConfig()
        elif tile is False:
            self.tile = None
        elif isinstance(tile, int):
            self.tile = TileConfig(size=tile, overlap=min(TileConfig.overlap, tile // 4))
        else:
            self.tile = tile
        if num_threads is not None and self.device.type == "cpu":
            torch.set_num_threads(max(1, int(num_threads)))
        mean, std = _normalization(self.card, normalization)
        self._mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.amp = (self.device.type == "cuda") if amp is None else bool(amp)
        self.channels_last = bool(channels_last)
        self.net = net.to(self.device).eval()
        if fuse_bn:  # a folded copy; the caller's network is left as it is
            self.net = fold_batchnorm_checked(self.net)
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.scale = float(self.card.get("input_scale", 1.0) if scale is None else scale)
        if not 0.0 < self.scale <= 8.0:
            raise ValueError(f"input scale must be in (0, 8], got {self.scale}")
        classes = self.card.get("classes")
        self.classes: list[str] | None = list(classes) if classes else None

    # ---- core ----------------------------------------------------------------------------------
    def _to_input(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        batch = torch.from_numpy(np.stack([np.ascontiguousarray(im) for im in images]))
        x = batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
        return (x - self._mean) / self._std

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.amp:
            dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
            with torch.autocast(device_type=self.device.type, dtype=dtype):
                logits = self.net(x)
        else:
            logits = self.net(x)
        if logits.ndim != 4 or logits.shape[0] != x.shape[0] or logits.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"the network returned shape {tuple(logits.shape)} for input {tuple(x.shape)}; "
                             "expected (B, C, H, W) logits of the input's size")
        return logits.float()

    @torch.inference_mode()
    def probabilities(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, C, H, W) float32 class probabilities for equally sized images (no tiling): resized by
        the card's ``input_scale``, padded to a multiple of 32, logits cropped and resized back."""
        x = self._to_input([as_rgb(im) for im in images])
        h, w = x.shape[-2:]
        if self.scale != 1.0:
            x = F.interpolate(x, size=self._scaled(h, w), mode="bilinear", align_corners=False, antialias=True)
        x, (sh, sw) = pad_to_multiple(x, 32)

        def finish(logits: torch.Tensor) -> torch.Tensor:
            logits = logits[..., :sh, :sw]
            if (sh, sw) != (h, w):
                logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            return F.softmax(logits, dim=1)

        probs = finish(self._forward(x))
        if self.tta_flip:
            probs = (probs + finish(self._forward(x.flip(-1)).flip(-1))) * 0.5
        return probs

    def _scaled(self, h: int, w: int) -> tuple[int, int]:
        return max(1, round(h * self.scale)), max(1, round(w * self.scale))

    def _tile_config(self, h: int, w: int) -> TileConfig | None:
        """The tiling (in image pixels) for an image, or None when it goes through whole."""
        if self.tile is None or not self.tile.needs_tiling(*self._scaled(h, w)):
            return None
        if self.scale == 1.0:
            return self.tile
        size = max(32, round(self.tile.size / self.scale))
        overlap = min(size - 1, round(self.tile.overlap / self.scale))
        return replace(self.tile, size=size, overlap=overlap)

    def _reduce(self, probs: torch.Tensor) -> Prediction:
        conf, cls = probs.max(dim=0)
        entropy = None
        if self.with_entropy:
            entropy = (-(probs * probs.clamp_min(1e-12).log()).sum(dim=0)).float().cpu().numpy()
        return Prediction(cls.to(torch.uint8).cpu().numpy(), conf.float().cpu().numpy(), entropy)

    # ---- public --------------------------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, image: np.ndarray) -> Prediction:
        """One image: mask, confidence and (if ``with_entropy``) entropy. Large images are tiled."""
        image = as_rgb(image)
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            raise ValueError(f"cannot predict an empty image of shape {image.shape}")
        tiling = self._tile_config(h, w)
        if tiling is not None:
            mask, conf, ent = predict_tiled(image, self.probabilities, tiling, self.with_entropy)
            return Prediction(mask, conf, ent)
        return self._reduce(self.probabilities([image])[0])

    def predict_image(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.predict(image)
        return p.mask, p.confidence

    @torch.inference_mode()
    def predict_many(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """Predictions in input order; consecutive images of one size share a batch."""
        images = [as_rgb(im) for im in images]
        out: list[Prediction | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(images):
            h, w = im.shape[:2]
            if self._tile_config(h, w) is not None:
                out[i] = self.predict(im)
            else:
                groups.setdefault((h, w), []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                probs = self.probabilities([images[i] for i in chunk])
                for k, i in enumerate(chunk):
                    out[i] = self._reduce(probs[k])
        return out  # type: ignore[return-value]

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(p.mask, p.confidence) for p in self.predict_many(images)]

    def predict_paths(self, paths: Iterable[str | Path]) -> Iterator[tuple[Path, Prediction]]:
        """Read and predict image files, ``batch_size`` at a time, yielding (path, prediction)."""
        from .imageio import read_image

        pending: list[Path] = []
        for path in paths:
            pending.append(Path(path))
            if len(pending) >= self.batch_size:
                yield from zip(pending, self.predict_many([read_image(p) for p in pending]), strict=True)
                pending = []
        if pending:
            yield from zip(pending, self.predict_many([read_image(p) for p in pending]), strict=True)

    def predict_folder(self, folder: str | Path) -> Iterator[tuple[Path, Prediction]]:
        from .imageio import IMAGE_SUFFIXES

        folder = Path(folder)
        paths = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        return self.predict_paths(paths)

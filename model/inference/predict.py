"""Running a segmentation network over images: class masks plus per-pixel confidence.

``Predictor`` wraps a loaded model (or any nn.Module mapping (B, C, H, W) floats to (B, K, H, W)
logits). Images are (H, W, C) arrays as ``imageio.read_raw`` gives them (any dtype, the model's
bands), normalised as the card says (``model.nets.normalization``; old cards: 8-bit RGB + ImageNet).
Images of one size are batched; images with more pixels at the working scale than
``TileConfig.max_pixels`` go through sliding-window tiling (``model.nets.tiling``) in bounded memory,
so masks always come out at the image's full resolution. Resize, reflect padding to a multiple of
32 and cropping are ``tiling.to_working`` and ``tiling.run_working``, the steps of ``tiling.run_scaled``
that training validation uses; the working-scale logits are resized to full size and reduced to the
mask, confidence, entropy and the proposal figures one band of rows at a time (``model.nets.planes``), so a
50 MP photo never holds K x H x W full-size floats (benchmarks/README_inference.md, "Memory").
Optional horizontal-flip test-time augmentation averages the probabilities of the image and of its mirror (mirrored back);
off by default: on a CamVid sequence the model never saw it left more pixels wrong for every model scored, at twice
the CPU time (benchmarks/README_train.md, round 3). CUDA with autocast when available,
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

from model.images.imageio import IMAGE_SUFFIXES
from model.images.imageio import read_raw as read_image
from model.nets import normalization as nz
from model.nets.fuse import fold_batchnorm_checked
from model.nets.networks import ScaledInput
from model.nets.normalization import IMAGENET_MEAN, IMAGENET_STD  # noqa: F401 - kept importable from here
from model.nets.planes import PlaneReducer, reduce_logits
from model.nets.tiling import TileConfig, predict_tiled, run_scaled, run_working, scaled_size, to_working
from model.project.confidence import quantise_confidence


@dataclass
class Prediction:
    mask: np.ndarray  # (H, W) uint8 class indices
    confidence: np.ndarray  # (H, W) max softmax probability: float32 0..1, or uint8 0..255 when quantised
    entropy: np.ndarray | None = None  # (H, W) float32 nats, when asked for
    stats: dict | None = None  # model.nets.planes.PlaneReducer.stats(): the figures over every full-size pixel


def _normalization(card: dict | None, normalization: dict | None) -> dict:
    norm = normalization if normalization is not None else (card or {}).get("normalization")
    return dict(norm) if norm else nz.imagenet()


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
    """Predict class masks and confidence for images ((H, W, C) arrays of any dtype, see the module).

    ``model``: a LoadedModel (``.net`` and ``.card``) or a bare nn.Module. ``card``: the model card
    (its ``normalization`` is used; ImageNet statistics otherwise). ``tile``: a TileConfig, an int
    tile size, None for the defaults, or False never to tile. ``num_threads``: CPU threads for torch
    (left as is when None). ``channels_last``: memory layout (faster for ResNet encoders).
    ``scale``: resize factor before the network (default: the card's ``input_scale``, else 1).
    ``fuse_bn``: fold BatchNorm into the convolutions of a private copy of the network. ``amp``:
    autocast (default on for CUDA, float16; bfloat16 when forced on for CPU). ``runtime``: an object
    whose ``run(x)`` maps the (B, C, H, W) float32 input to logits in place of the torch forward
    (``model.inference.proposal_runtime`` gives onnxruntime where it was measured faster; None: torch).
    ``quantised_confidence``: predictions carry their confidence as stored (uint8, 255 = certain,
    ``model.project.confidence.quantise_confidence``), made so band by band: what a proposal writes, in a
    quarter of the memory (``model.project.confidence.confidence_values`` gives 0..1 floats back).
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
        runtime=None,
        quantised_confidence: bool = False,
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
        self._quantise = quantise_confidence if quantised_confidence else None
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
        self.normalization = _normalization(self.card, normalization)
        a, b, lo, hi = (torch.from_numpy(v).to(self.device).view(1, -1, 1, 1)
                        for v in nz.input_affine(self.normalization))
        self._affine = (a, b, lo, hi)
        self._clip = bool(torch.isfinite(lo).all())
        self.amp = (self.device.type == "cuda") if amp is None else bool(amp)
        self.channels_last = bool(channels_last)
        self.runtime = runtime  # model.inference.runtime: its run(x) -> logits replaces the torch forward (CPU)
        self.net = net.to(self.device).eval()
        if fuse_bn and runtime is None:  # a folded copy; the caller's network is left as it is
            self.net = fold_batchnorm_checked(self.net)
        if self.channels_last and runtime is None:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.scale = float(self.card.get("input_scale", 1.0) if scale is None else scale)
        if not 0.0 < self.scale <= 8.0:
            raise ValueError(f"input scale must be in (0, 8], got {self.scale}")
        classes = self.card.get("classes")
        self.classes: list[str] | None = list(classes) if classes else None

    # ---- core ----------------------------------------------------------------------------------
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The (H, W, C) array the network's normalisation applies to (8-bit RGB for old models)."""
        return nz.prepare(image, self.normalization)

    def _working_input(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Prepared (H, W, C) images of one size -> normalised (B, C, h, w) float32 at the working scale,
        one channel at a time (``tiling.to_working`` resizes channels independently): one full-size float
        channel lives at once, not the whole float image (600 MB at 50 MP)."""
        h, w = images[0].shape[:2]
        sh, sw = scaled_size(h, w, self.scale) if self.scale != 1.0 else (h, w)
        channels = images[0].shape[2]
        x = torch.empty((len(images), channels, sh, sw), dtype=torch.float32, device=self.device)
        a, b, lo, hi = self._affine
        for i, image in enumerate(images):
            for c in range(channels):
                plane = torch.from_numpy(np.ascontiguousarray(nz.to_float(image[:, :, c])))
                plane = plane.to(self.device).float().mul_(a[0, c]).add_(b[0, c])
                if self._clip:
                    plane = torch.maximum(torch.minimum(plane, hi[0, c]), lo[0, c])
                x[i, c] = to_working(plane[None, None], self.scale)[0, 0]
                del plane
        return x

    def _to_input(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Prepared (H, W, C) images -> normalised (B, C, H, W) float32 on the device."""
        batch = torch.from_numpy(np.stack([np.ascontiguousarray(nz.to_float(im)) for im in images]))
        a, b, lo, hi = self._affine
        x = batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float() * a + b
        return torch.maximum(torch.minimum(x, hi), lo) if self._clip else x

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.runtime is not None:
            logits = self.runtime.run(x).to(self.device)
        elif self.amp:
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
    def probabilities(self, images: Sequence[np.ndarray], prepared: bool = False) -> torch.Tensor:
        """(B, K, H, W) float32 class probabilities for equally sized images (no tiling), through
        ``tiling.run_scaled`` at the card's ``input_scale``."""
        x = self._to_input(images if prepared else [self.prepare(im) for im in images])
        probs = F.softmax(run_scaled(self._forward, x, self.scale), dim=1)
        if self.tta_flip:
            flipped = run_scaled(self._forward, x.flip(-1), self.scale).flip(-1)
            probs = (probs + F.softmax(flipped, dim=1)) * 0.5
        return probs

    def _prepared_probabilities(self, tiles: list[np.ndarray]) -> torch.Tensor:
        return self.probabilities(tiles, prepared=True)

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

    def _predict_whole(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """Prepared images of one size in one forward pass at the working scale; each one's logits are
        resized to full size and reduced band by band (``model.nets.planes.reduce_logits``). ``images`` is a
        list of this class's own making: it is emptied once they are the network's input, so a photo nobody
        else holds (``predict_many(release=True)``) is freed before the forward pass."""
        h, w = images[0].shape[:2]
        count = len(images)
        x = self._working_input(images)
        images.clear()
        strips = self.tile.strip_pixels if self.tile is not None else None
        logits = run_working(self._forward, x, strip_pixels=strips)
        flipped = run_working(self._forward, x.flip(-1), strip_pixels=strips).flip(-1) if self.tta_flip else None
        del x
        out = []
        for k in range(count):
            reducer = PlaneReducer(h, w, entropy_plane=self.with_entropy, quantise=self._quantise)
            reduce_logits([logits[k]] if flipped is None else [logits[k], flipped[k]], reducer)
            out.append(Prediction(reducer.mask, reducer.confidence, reducer.entropy, reducer.stats()))
        return out

    # ---- public --------------------------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, image: np.ndarray) -> Prediction:
        """One image: mask, confidence and (if ``with_entropy``) entropy, at the image's full
        resolution. Images over the tiling budget are tiled."""
        image = self.prepare(image)
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            raise ValueError(f"cannot predict an empty image of shape {image.shape}")
        tiling = self._tile_config(h, w)
        if tiling is not None:
            reducer = PlaneReducer(h, w, entropy_plane=self.with_entropy, quantise=self._quantise)
            predict_tiled(image, self._prepared_probabilities, tiling, reducer=reducer)
            return Prediction(reducer.mask, reducer.confidence, reducer.entropy, reducer.stats())
        return self._predict_whole([image])[0]

    def predict_image(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.predict(image)
        return p.mask, p.confidence

    @torch.inference_mode()
    def predict_many(self, images: Sequence[np.ndarray], *, release: bool = False) -> list[Prediction]:
        """Predictions in input order; consecutive images of one size share a batch. ``release``: ``images``
        (a list) is emptied at once and each image dropped as soon as it is the network's input, so a
        50 MP photo (150 MB) is not held while its planes are made (``propose_dataset``)."""
        given = images
        images = [self.prepare(im) for im in images]
        if release:
            given.clear()  # type: ignore[attr-defined]
        out: list[Prediction | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i in range(len(images)):
            h, w = images[i].shape[:2]
            if self._tile_config(h, w) is not None:
                out[i] = self.predict(images[i])
                if release:
                    images[i] = None  # type: ignore[call-overload]
            else:
                groups.setdefault((h, w), []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                batch = [images[i] for i in chunk]
                if release:
                    for i in chunk:
                        images[i] = None  # type: ignore[call-overload]
                for i, pred in zip(chunk, self._predict_whole(batch), strict=True):
                    out[i] = pred
        return out  # type: ignore[return-value]

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(p.mask, p.confidence) for p in self.predict_many(images)]

    def predict_paths(self, paths: Iterable[str | Path]) -> Iterator[tuple[Path, Prediction]]:
        """Read and predict image files, ``batch_size`` at a time, yielding (path, prediction)."""

        pending: list[Path] = []
        for path in paths:
            pending.append(Path(path))
            if len(pending) >= self.batch_size:
                yield from zip(pending, self.predict_many([read_image(p) for p in pending], release=True), strict=True)
                pending = []
        if pending:
            yield from zip(pending, self.predict_many([read_image(p) for p in pending], release=True), strict=True)

    def predict_folder(self, folder: str | Path) -> Iterator[tuple[Path, Prediction]]:
        folder = Path(folder)
        paths = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        return self.predict_paths(paths)

"""Network registry and factory on segmentation-models-pytorch.

Encoder weights: "imagenet" comes from the local Hugging Face cache, or is downloaded when the network
can be reached; offline, ONE notice line says so and the encoder starts from random initialisation.
A local weights file (safetensors, or a plain torch state_dict read with ``weights_only=True``) works
too. The input normalisation is a constant stored in the model card, never fetched.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import segmentation_models_pytorch as smp
import torch
from torch import nn

from model.errors import ModelFileError
from model.progress import notice

from .config import TrainConfig
from .tiling import run_scaled

log = logging.getLogger(__name__)


class SegNetEncoder(nn.Module):
    """torchvision's VGG16-BN convolutional part (``features``, same keys, so VGG16-BN ImageNet weights
    load into it), its five max-poolings returning their indices for the decoder's unpooling."""

    def __init__(self, in_channels: int = 3):
        super().__init__()
        from torchvision.models import vgg16_bn

        self.features = vgg16_bn(weights=None).features  # random initialisation, nothing downloaded
        for layer in self.features:
            if isinstance(layer, nn.MaxPool2d):
                layer.return_indices = True
        if in_channels != 3:
            self.set_in_channels(in_channels)

    def forward(self, x: torch.Tensor):
        indices, sizes = [], []
        for layer in self.features:
            if isinstance(layer, nn.MaxPool2d):
                sizes.append(x.shape[-2:])
                x, idx = layer(x)
                indices.append(idx)
            else:
                x = layer(x)
        return x, indices, sizes

    def set_in_channels(self, in_channels: int, pretrained: bool = False) -> None:
        """Another number of input bands; pretrained RGB filters are cycled over the bands (as smp does)."""
        old = self.features[0]
        new = nn.Conv2d(int(in_channels), old.out_channels, old.kernel_size, old.stride, old.padding)
        if pretrained:
            with torch.no_grad():
                for c in range(int(in_channels)):
                    new.weight[:, c] = old.weight[:, c % old.in_channels]
                new.weight.mul_(old.in_channels / int(in_channels))
                new.bias.copy_(old.bias)
        self.features[0] = new


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SegNet(nn.Module):
    """SegNet (Badrinarayanan et al. 2017): a VGG16-BN encoder whose max-pooling indices drive the
    decoder's unpooling, then the mirrored convolutions; the last layer gives the class logits."""

    DECODER = ((512, 512, 512), (512, 512, 256), (256, 256, 128), (128, 64), (64,))

    def __init__(self, encoder_name: str = "vgg16_bn", encoder_weights: str | None = None, in_channels: int = 3,
                 classes: int = 2):
        super().__init__()
        if encoder_name != "vgg16_bn":
            raise ValueError(f"SegNet is built on the vgg16_bn encoder, not {encoder_name!r}")
        if encoder_weights is not None:
            raise ValueError("SegNet loads encoder weights through networks.build_model, not its constructor")
        self.encoder = SegNetEncoder(in_channels)
        stages, cin = [], 512
        for widths in self.DECODER:
            layers: list[nn.Module] = []
            for width in widths:
                layers += _conv_bn_relu(cin, width)
                cin = width
            stages.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(stages)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.segmentation_head = nn.Conv2d(cin, classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, indices, sizes = self.encoder(x)
        for stage, idx, size in zip(self.decoder, reversed(indices), reversed(sizes), strict=True):
            x = stage(self.unpool(x, idx, output_size=size))
        return self.segmentation_head(x)


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "Unet": smp.Unet,
    "UnetPlusPlus": smp.UnetPlusPlus,
    "FPN": smp.FPN,
    "DeepLabV3Plus": smp.DeepLabV3Plus,
    "Linknet": smp.Linknet,
    "PSPNet": smp.PSPNet,
    "SegNet": SegNet,  # encoder: vgg16_bn only
}
DEFAULT_ENCODERS = {"SegNet": "vgg16_bn"}  # architectures tied to one encoder

# smp's pretrained encoders were trained on ImageNet with these statistics (RGB, input range 0..1).
# smp.encoders.get_preprocessing_params() downloads a config.json from the Hub to return them, so
# they are kept here and written into every model card instead.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HUB_HOST = ("huggingface.co", 443)


def normalization() -> dict[str, list[float]]:
    return {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input_range": [0, 1], "space": "RGB"}


def make_net(arch: str, encoder: str, num_classes: int, in_channels: int = 3) -> nn.Module:
    """The bare network (random initialisation), never touching the network. ``in_channels``: the
    data's bands (1 grey, 3 RGB, 4+ multi-band; see model.nets.normalization)."""
    try:
        factory = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}") from None
    return factory(encoder_name=encoder, encoder_weights=None, in_channels=int(in_channels), classes=num_classes)


class ScaledInput(nn.Module):
    """A network that works at ``scale`` times the resolution it is given: the input is resized by
    ``scale`` (and padded to a multiple of 32), the logits are cropped and resized back to the input's
    size. ``load_model`` wraps models trained at a scale other than 1, so any caller that runs the
    network on full-resolution images (the predictor, tiling) sees objects at the trained scale."""

    def __init__(self, net: nn.Module, scale: float):
        super().__init__()
        self.net, self.scale = net, float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_scaled(self.net, x, self.scale)


def build_model(cfg: TrainConfig, num_classes: int, on_event: Callable[[dict], None] | None = None,
                in_channels: int = 3) -> nn.Module:
    """A new network for ``cfg`` with encoder weights as asked (see the module docstring).

    Sets ``net.encoder_pretrained`` to True when the encoder weights were loaded. With
    ``in_channels`` != 3 the (pretrained) first convolution is adapted as smp does (``set_in_channels``).
    """
    if in_channels != 3:
        net = build_model(cfg, num_classes, on_event)
        net.encoder.set_in_channels(int(in_channels), pretrained=net.encoder_pretrained)
        return net
    net = make_net(cfg.arch, cfg.encoder, num_classes)
    net.encoder_pretrained = False
    weights = cfg.encoder_weights
    if weights is None:
        return net
    if weights == "imagenet":
        try:
            state = load_imagenet_state(cfg.encoder)
        except Exception as exc:  # offline, no cache, hub error: fall back, say so once
            message = (f"ImageNet weights for {cfg.encoder} unavailable offline; using random initialisation"
                       if isinstance(exc, OSError) else
                       f"ImageNet weights for {cfg.encoder} unavailable ({type(exc).__name__}: {exc}); "
                       "using random initialisation")
            notice(on_event, message)
            return net
        source = f"ImageNet weights for {cfg.encoder}"
    else:
        state = read_state_dict(Path(weights))
        source = str(weights)
    load_encoder_state(net, state, source)
    net.encoder_pretrained = True
    return net



def load_imagenet_state(encoder: str) -> dict[str, torch.Tensor]:
    """The encoder's ImageNet state_dict from the local cache, or downloaded when the hub is reachable.
    Raises OSError when it cannot be had (no cache and no network)."""
    from huggingface_hub import hf_hub_download
    from safetensors.torch import load_file

    settings = smp.encoders.encoders.get(encoder, {}).get("pretrained_settings", {}).get("imagenet")
    if settings is None:
        raise ValueError(f"smp has no ImageNet weights for encoder {encoder}")
    repo, revision = settings["repo_id"], settings["revision"]
    try:
        path = hf_hub_download(repo, filename="model.safetensors", revision=revision, local_files_only=True)
    except Exception:
        if not hub_reachable():
            raise OSError(f"no cached ImageNet weights for {encoder} and {HUB_HOST[0]} cannot be reached") from None
        try:
            path = hf_hub_download(repo, filename="model.safetensors", revision=revision)
        except Exception as exc:
            raise OSError(f"download of {repo} failed: {exc}") from exc
    return load_file(path, device="cpu")


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick check (one TCP connect) instead of the Hub client's minute of retries when offline."""
    if os.environ.get("LABELTOOL_OFFLINE") or os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0"):
        return False
    try:
        with socket.create_connection(HUB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state_dict from safetensors, or from a torch file with ``weights_only=True`` (never a full unpickle)."""
    if not path.is_file():
        raise ModelFileError(f"{path}: weights file not found")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc})") from exc
    state: Any
    if looks_like_safetensors(head):
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except Exception as exc:
            raise ModelFileError(f"{path}: not a complete safetensors file ({exc})") from exc
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelFileError(f"{path}: not a safetensors file nor a plain torch state_dict "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{path}: does not hold a state_dict (a mapping of names to tensors)")
    return state


def looks_like_safetensors(head: bytes) -> bool:
    """safetensors: 8-byte little-endian header length, then a JSON object."""
    if len(head) < 9:
        return False
    size = int.from_bytes(head[:8], "little")
    return 2 <= size < (1 << 30) and head[8:9] == b"{"


def load_encoder_state(net: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load encoder weights given either as the encoder's own keys or a whole model's (``encoder.*``)."""
    if any(k.startswith("encoder.") for k in state):
        state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    state = {k: v for k, v in state.items() if not k.startswith(("fc.", "classifier."))}
    try:
        net.encoder.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelFileError(f"{source}: weights do not fit encoder {type(net.encoder).__name__} ({first} ...)") from exc

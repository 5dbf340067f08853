"""Training configuration: one small typed dataclass, JSON-friendly, validated with clear errors.

``None`` in a field means "let model.training.defaults choose for this hardware and dataset".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.errors import LabeltoolError

ARCHS = ("Unet", "UnetPlusPlus", "FPN", "DeepLabV3Plus", "Linknet", "PSPNet", "SegNet")  # SegNet: vgg16_bn only
ENCODERS = ("resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet-b0")
LOSSES = ("ce", "ce+dice", "focal")
CLASS_WEIGHTS = ("none", "sqrt_inv_freq")
INITS = ("auto", "latest", "fresh")
PSEUDO_LABELS = ("off", "confident")


class ConfigError(LabeltoolError):
    """A training option has a value that cannot work; the message names the option."""


@dataclass
class TrainConfig:
    arch: str | None = None  # None: model.training.defaults chooses (Unet, or the latest model's when fine-tuning)
    encoder: str | None = None
    # "imagenet", None (random initialisation) or a path to a local weights file.
    encoder_weights: str | None = "imagenet"
    # Images are resized by ``scale`` before the network, in training and prediction (card: input_scale).
    scale: float | None = None
    # Training crop [height, width] (multiples of 32), taken at that scale.
    size: list[int] | None = None
    batch_size: int | None = None
    epochs: int | None = None  # upper bound when a time budget is set
    lr: float | None = None  # max LR of the one-cycle schedule (decoder/head)
    encoder_lr_div: float = 10.0  # encoder LR = lr / encoder_lr_div once unfrozen (discriminative LRs)
    freeze_epochs: int | None = None  # fastai fine_tune: epochs with the encoder frozen first
    weight_decay: float = 1e-2
    pct_start: float = 0.25
    loss: str = "ce+dice"
    class_weights: str = "none"
    # Semi-supervised (model.training.semisup): "confident" adds confident pseudo-labels of the project's unlabelled
    # images to the second part of the run; "off": corrected masks only; None: model.training.defaults chooses.
    pseudo_labels: str | None = None
    pseudo_threshold: float = 0.9  # softmax confidence a pseudo-labelled pixel needs; the others are ignored
    # Video propagation (model.training.propagated): each corrected frame's mask warped onto up to this many
    # unlabelled frames on each side in its sequence (where the warp fits) is trained on too, with label relaxation
    # at the warped boundaries; derived training inputs only, never saved as masks. 0: off; None: defaults choose.
    propagated_neighbours: int | None = None
    augment: bool = True
    # Light augmentation by default: on 25 CamVid frames and a 90 s budget, rotation and colour jitter
    # cost more than they gave (benchmarks/README_train.md).
    zoom: list[float] = field(default_factory=lambda: [0.9, 1.1])  # random zoom around the scale
    rotation: float = 0.0  # degrees
    color_jitter: bool = False
    amp: bool | None = None  # None: on for CUDA
    channels_last: bool | None = None  # None: on for CUDA
    compile: bool = False
    time_budget: float | None = None  # seconds for the whole run; None: no limit
    init: str = "auto"  # "auto": fine-tune latest model if classes match; "latest"; "fresh"; or a model path
    resume: bool = True
    checkpoint_every: float = 20.0  # seconds: at most one checkpoint (at an epoch end) per interval; 0: every epoch
    threads: int | None = None  # CPU threads for torch; None: all cores (shared among DDP ranks)
    num_workers: int | None = None
    seed: int = 0
    validate: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- conversion ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of options, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        cfg = cls(**data)
        cfg.validate_all(source)
        return cfg

    def replace(self, **changes: Any) -> TrainConfig:
        cfg = dataclasses.replace(self, **changes)
        cfg.validate_all()
        return cfg

    # ---- validation ----------------------------------------------------------------------------
    def validate_all(self, source: str = "config") -> TrainConfig:
        def bad(option: str, message: str) -> ConfigError:
            return ConfigError(f"{source}: {option}: {message}")

        if self.arch is not None and self.arch not in ARCHS:
            raise bad("arch", f"{self.arch!r} is not one of {', '.join(ARCHS)}")
        if self.encoder is not None and (not isinstance(self.encoder, str) or not self.encoder):
            raise bad("encoder", "must name an encoder, e.g. " + ", ".join(ENCODERS))
        if self.encoder is not None and self.encoder not in ENCODERS:
            import segmentation_models_pytorch as smp

            if self.encoder not in smp.encoders.get_encoder_names():
                raise bad("encoder", f"{self.encoder!r} is unknown; try one of {', '.join(ENCODERS)}")
        if isinstance(self.encoder_weights, str) and self.encoder_weights.lower() in ("none", ""):
            self.encoder_weights = None
        if self.encoder_weights not in (None, "imagenet") and not Path(str(self.encoder_weights)).is_file():
            raise bad("encoder_weights", f"{self.encoder_weights}: not 'imagenet', 'none' or an existing weights file")
        if self.size is not None:
            if isinstance(self.size, int):
                self.size = [self.size, self.size]
            self.size = [int(v) for v in self.size]
            if len(self.size) != 2 or any(v < 32 or v % 32 for v in self.size):
                raise bad("size", f"{self.size} must be [height, width], each a multiple of 32 and at least 32")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise bad(name, f"{value!r} must be a whole number of at least 1")
        if self.freeze_epochs is not None and (not isinstance(self.freeze_epochs, int) or self.freeze_epochs < 0):
            raise bad("freeze_epochs", f"{self.freeze_epochs!r} must be 0 or more")
        if self.lr is not None and not (0 < float(self.lr) < 10):
            raise bad("lr", f"{self.lr!r} must be between 0 and 10")
        if self.encoder_lr_div <= 0:
            raise bad("encoder_lr_div", "must be positive")
        if not 0 < self.pct_start < 1:
            raise bad("pct_start", f"{self.pct_start} must be between 0 and 1")
        if self.loss not in LOSSES:
            raise bad("loss", f"{self.loss!r} is not one of {', '.join(LOSSES)}")
        if self.class_weights not in CLASS_WEIGHTS:
            raise bad("class_weights", f"{self.class_weights!r} is not one of {', '.join(CLASS_WEIGHTS)}")
        if self.pseudo_labels is not None and self.pseudo_labels not in PSEUDO_LABELS:
            raise bad("pseudo_labels", f"{self.pseudo_labels!r} is not one of {', '.join(PSEUDO_LABELS)}")
        if self.propagated_neighbours is not None and (
                isinstance(self.propagated_neighbours, bool) or not isinstance(self.propagated_neighbours, int)
                or not 0 <= self.propagated_neighbours <= 10):
            raise bad("propagated_neighbours", f"{self.propagated_neighbours!r} must be a whole number from 0 to 10")
        if not 0 <= float(self.pseudo_threshold) <= 1:
            raise bad("pseudo_threshold", f"{self.pseudo_threshold} must be between 0 and 1")
        if len(self.zoom) != 2 or not 0 < self.zoom[0] <= self.zoom[1] <= 4:
            raise bad("zoom", f"{self.zoom} must be [low, high] with 0 < low <= high <= 4")
        if self.scale is not None and not 0.05 <= float(self.scale) <= 4:
            raise bad("scale", f"{self.scale} must be between 0.05 and 4")
        if self.time_budget is not None and float(self.time_budget) <= 0:
            raise bad("time_budget", f"{self.time_budget} seconds must be positive")
        if self.init not in INITS and not Path(self.init).is_file():
            raise bad("init", f"{self.init!r} is not one of {', '.join(INITS)} nor an existing model file")
        if self.threads is not None and self.threads < 1:
            raise bad("threads", "must be at least 1")
        return self

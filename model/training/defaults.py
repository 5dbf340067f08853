"""The one-click defaults: what "Retrain on my corrections" does with no options.

They adapt to the hardware (CUDA or the number of CPU cores) and to the number of corrected images,
and bound the time: on CPU the whole retrain (start-up to saved model) stays within ~5 minutes; the
training loop measures its own speed and sizes the one-cycle schedule to the budget. When the dataset
already has a model for the same classes, retraining fine-tunes it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from model.errors import ModelFileError
from model.nets.config import TrainConfig
from model.nets.networks import DEFAULT_ENCODERS
from model.registry.modelfile import read_card
from model.registry.registry import active_model

CPU_TIME_BUDGET = 255.0  # seconds of training; plus start-up and saving stays under 5 minutes
GPU_TIME_BUDGET = 600.0
MIN_TIME_BUDGET = 45.0
REFERENCE_PIXELS = 25 * 240 * 180  # 25 CamVid frames (480x360) at the CPU's half scale
MAX_EPOCHS = 400  # upper bound; the time budget usually decides
CPU_SCALE = 0.5
MIN_SIDE_CPU = 240
MAX_CROP_CPU = 256
MAX_CROP_GPU = 512
CPU_WORK_PIXELS = 2_000_000  # pixels per image at the working scale (see pixel_budget)
GPU_WORK_PIXELS = 16_000_000
# Pseudo-labels of the unlabelled images (model.training.semisup) in the one-click retrain: "off" until they
# beat the corrected-only run on a held-out sequence by more than the noise (benchmarks/README_train.md).
DEFAULT_PSEUDO_LABELS = "off"
# Corrected masks warped onto unlabelled neighbouring frames (model.training.propagated) in the one-click retrain:
# 0 (off) until the 3-seed held-out-sequence benchmark (bench_retrain_default.py --seeds 3 --propagate K) shows
# that it beats the corrected-only run by more than the spread between seeds.
DEFAULT_PROPAGATED_NEIGHBOURS = 0


@dataclass
class Hardware:
    device: str  # "cuda" or "cpu"
    cpu_cores: int
    gpu_memory: int = 0  # bytes
    gpu_name: str = ""


def detect_hardware() -> Hardware:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return Hardware("cuda", cores, int(props.total_memory), props.name)
    return Hardware("cpu", cores)


def floor32(value: float) -> int:
    return max(32, int(value // 32) * 32)


def pixel_budget(hw: Hardware) -> int:
    """Pixels of one image at the working scale that the hardware trains and proposes in reasonable
    time (proposals of larger images are tiled, so memory is not the limit; time is)."""
    if hw.device != "cuda":
        return CPU_WORK_PIXELS
    return GPU_WORK_PIXELS if hw.gpu_memory == 0 or hw.gpu_memory >= 12 << 30 else GPU_WORK_PIXELS // 2


def default_scale(image_wh: tuple[int, int], hw: Hardware) -> float:
    """The working scale images are trained and proposed at (masks always come out at full
    resolution): half resolution on CPU (as fastai starts CamVid), full on GPU; small images are not
    shrunk below MIN_SIDE_CPU px on the long side (thin poles and pedestrians vanish otherwise); large
    images are shrunk only as far as the hardware's ``pixel_budget`` needs (a 12 MP photo: 0.41 on CPU,
    1.0 on a GPU), never to a fixed long side. A project's ``working_scale`` setting overrides it."""
    long_side = max(image_wh)
    pixels = max(1, image_wh[0] * image_wh[1])
    scale = 1.0 if hw.device == "cuda" else max(CPU_SCALE, min(1.0, MIN_SIDE_CPU / long_side))
    return min(scale, round(math.sqrt(pixel_budget(hw) / pixels), 3))


def project_working_scale(project) -> float | None:
    """The project's ``working_scale`` setting (None when unset or when the project has no settings yet);
    ValueError naming the project for a value outside 0.05..4."""
    get = getattr(project, "get_setting", None)
    value = get("working_scale") if callable(get) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.05 <= value <= 4:
        raise ValueError(f"{getattr(project, 'root', 'project')}: working_scale setting {value!r} must be a "
                         "number between 0.05 and 4")
    return float(value)


def default_time_budget(num_images: int, image_wh: tuple[int, int], scale: float, hw: Hardware) -> float:
    """Seconds of training, in proportion to the pixels to learn from: 25 CamVid frames at half scale
    get the whole CPU_TIME_BUDGET (measured in benchmarks/bench_retrain_default.py), a handful of small
    images about a minute; never less than MIN_TIME_BUDGET nor more than the hardware's budget."""
    cap = GPU_TIME_BUDGET if hw.device == "cuda" else CPU_TIME_BUDGET
    pixels = num_images * image_wh[0] * image_wh[1] * scale * scale
    return float(min(cap, max(MIN_TIME_BUDGET, cap * pixels / REFERENCE_PIXELS)))


def default_size(image_wh: tuple[int, int], scale: float, hw: Hardware) -> list[int]:
    """Training crop [H, W]: the scaled image rounded down to multiples of 32, at most MAX_CROP a side."""
    w, h = image_wh
    cap = MAX_CROP_GPU if hw.device == "cuda" else MAX_CROP_CPU
    return [min(cap, floor32(h * scale)), min(cap, floor32(w * scale))]


def working_scale(project, image_wh: tuple[int, int], hw: Hardware) -> tuple[float, str]:
    """(scale, where it comes from) for showing the setting: the project's ``working_scale`` or the
    hardware default with its pixel budget, e.g. (0.408, "default: 2.0 MP per image on CPU")."""
    saved = project_working_scale(project)
    if saved is not None:
        return saved, "project setting"
    return default_scale(image_wh, hw), f"default: {pixel_budget(hw) / 1e6:.1f} MP per image on {hw.device.upper()}"


def resolve_config(cfg: TrainConfig | None, *, num_images: int, image_wh: tuple[int, int], hw: Hardware,
                   models_dir: Path, codes: list[str],
                   working_scale: float | None = None) -> tuple[TrainConfig, Path | None, list[str]]:
    """Fill every unset option; returns (config, model to fine-tune from or None, notices).
    ``working_scale``: the project's setting; it wins over the fine-tuned model's scale and the default,
    an explicit ``cfg.scale`` wins over it."""
    cfg = TrainConfig() if cfg is None else cfg
    notes: list[str] = []
    init_path = _init_model(cfg, models_dir, codes, notes)
    card = read_card(init_path) if init_path else None
    if card is not None:
        if (cfg.arch and cfg.arch != card["arch"]) or (cfg.encoder and cfg.encoder != card["encoder"]):
            if cfg.init != "auto":
                raise ModelFileError(f"{init_path}: is {card['arch']}/{card['encoder']}, not the "
                                     f"{cfg.arch or card['arch']}/{cfg.encoder or card['encoder']} asked for")
            notes.append(f"latest model {init_path.name} is {card['arch']}/{card['encoder']}; starting a new "
                         f"{cfg.arch or card['arch']}/{cfg.encoder or card['encoder']} from scratch")
            init_path, card = None, None
    cuda = hw.device == "cuda"
    changes: dict = {}
    if card is not None:
        changes.update(arch=card["arch"], encoder=card["encoder"])
        if cfg.scale is None:
            changes["scale"] = float(card.get("input_scale", 1.0))
        if cfg.size is None:
            changes["size"] = list(card["input_size"])
    else:
        arch = cfg.arch or "Unet"
        tied = DEFAULT_ENCODERS.get(arch)  # SegNet is built on VGG16-BN
        changes.update(arch=arch, encoder=cfg.encoder or tied or ("resnet34" if cuda else "resnet18"))
    if cfg.scale is None and working_scale is not None:
        changes["scale"] = float(working_scale)
    if cfg.scale is None and "scale" not in changes:
        changes["scale"] = default_scale(image_wh, hw)
    if cfg.size is None and "size" not in changes:
        changes["size"] = default_size(image_wh, changes.get("scale", cfg.scale), hw)
    if cfg.batch_size is None:
        changes["batch_size"] = max(1, min(8, num_images))
    explicit_epochs = cfg.epochs is not None
    if cfg.epochs is None:
        changes["epochs"] = MAX_EPOCHS
    if cfg.time_budget is None and not explicit_epochs:
        scale = changes.get("scale", cfg.scale) or 1.0
        changes["time_budget"] = default_time_budget(num_images, image_wh, scale, hw)
    if cfg.lr is None:
        changes["lr"] = 5e-4 if card is not None else 2e-3
    if cfg.freeze_epochs is None:
        # fastai's fine_tune freezes a *pretrained* encoder for one epoch; a model being retrained
        # or an encoder starting from random weights gains nothing from it.
        changes["freeze_epochs"] = 1 if (card is None and cfg.encoder_weights is not None) else 0
    if card is not None:
        changes["encoder_weights"] = None  # the previous model's weights replace them
    if cfg.pseudo_labels is None:
        changes["pseudo_labels"] = DEFAULT_PSEUDO_LABELS
    if cfg.propagated_neighbours is None:
        changes["propagated_neighbours"] = DEFAULT_PROPAGATED_NEIGHBOURS
    if cfg.amp is None:
        changes["amp"] = cuda
    if cfg.channels_last is None:
        changes["channels_last"] = cuda
    if cfg.num_workers is None:
        changes["num_workers"] = min(4, max(0, hw.cpu_cores - 1)) if cuda else 0
    return cfg.replace(**changes), init_path, notes


def _init_model(cfg: TrainConfig, models_dir: Path, codes: list[str], notes: list[str]) -> Path | None:
    if cfg.init == "fresh":
        return None
    if cfg.init not in ("auto", "latest"):
        path = Path(cfg.init)
    else:
        path = active_model(models_dir)  # fine-tune the model that proposes, not a newer one the gate turned down
        if path is None:
            if cfg.init == "latest":
                raise ModelFileError(f"{models_dir}: no complete model to fine-tune")
            return None
    card = read_card(path)
    if list(card["classes"]) != list(codes):
        if cfg.init == "auto":
            notes.append(f"latest model {path.name} was made for other classes; training a new model")
            return None
        from model.registry.modelfile import check_classes  # torch: the GUI reads the defaults without it

        check_classes(card, codes, path)
    return path

"""Model files: weights as safetensors plus a JSON card beside them. Never unpickled.

``<dataset>/models/model-YYYYmmdd-HHMMSS.safetensors`` + ``model-YYYYmmdd-HHMMSS.json``. The weights
are written first and the card last, each atomically, so a model counts as complete only once its
card exists; the previous model stays untouched until then.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model.atomic import atomic_write, atomic_write_text
from model.errors import ModelFileError
from model.nets.networks import ScaledInput, looks_like_safetensors, make_net
from model.nets.normalization import input_affine

FORMAT = "labeltool-model"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "arch", "encoder", "classes", "normalization", "input_size")
PREFIX = "model-"


@dataclass
class LoadedModel:
    net: nn.Module
    card: dict[str, Any]
    path: Path  # the .safetensors file

    @property
    def classes(self) -> list[str]:
        return list(self.card["classes"])


KEEP_MODELS = 3  # newest complete models kept in <dataset>/models/ (plus active, rollback target, pinned, best)


def names_hash(names: list[str]) -> str:
    """A stable hash of a set of training image names."""
    return hashlib.sha256("\n".join(sorted(names)).encode("utf-8")).hexdigest()


def library_versions() -> dict[str, str]:
    import safetensors
    import segmentation_models_pytorch as smp
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "segmentation_models_pytorch": smp.__version__, "safetensors": safetensors.__version__}


def make_card(*, arch: str, encoder: str, classes: list[str], void_index: int | None, normalization: dict,
              input_size: list[int], training_images: list[str], input_scale: float = 1.0, metrics: dict | None = None,
              extra: dict | None = None) -> dict[str, Any]:
    card = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "arch": arch, "encoder": encoder, "num_classes": len(classes), "classes": list(classes),
        "void_index": void_index, "normalization": normalization, "input_size": list(input_size),
        "in_channels": int(normalization.get("channels", 3)),  # the data's bands (model.nets.normalization)
        "input_scale": float(input_scale),
        "training_images": sorted(training_images), "training_images_sha256": names_hash(training_images),
        "metrics": metrics or {}, "versions": library_versions(),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    card.update(extra or {})
    return card


def card_path(weights: Path) -> Path:
    return weights.with_suffix(".json")


def _new_stem(models_dir: Path) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem, n = f"{PREFIX}{stamp}", 1
    while (models_dir / f"{stem}.safetensors").exists() or (models_dir / f"{stem}.json").exists():
        stem, n = f"{PREFIX}{stamp}-{n}", n + 1
    return stem


def state_for_saving(net: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors, without DDP/compile wrappers, shared storage cloned (safetensors needs that)."""
    net = getattr(net, "module", net)
    net = getattr(net, "_orig_mod", net)
    net = net.net if isinstance(net, ScaledInput) else net
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in net.state_dict().items()}


def save_model(models_dir: str | Path, net: nn.Module, card: dict[str, Any]) -> Path:
    """Write weights then card atomically; returns the .safetensors path."""
    from safetensors.torch import save_file

    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise ValueError(f"model card lacks {', '.join(missing)}")
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    stem = _new_stem(models_dir)
    weights = models_dir / f"{stem}.safetensors"
    state = state_for_saving(net)
    atomic_write(weights, lambda tmp: save_file(state, str(tmp), metadata={"format": FORMAT}))
    card = dict(card, weights_file=weights.name, weights_sha256=sha256_file(weights))
    atomic_write_text(card_path(weights), json.dumps(card, indent=1, sort_keys=True) + "\n")
    return weights


def update_card(weights: str | Path, updates: dict[str, Any]) -> dict[str, Any]:
    """Add or replace keys of a model's card (atomically) keeping its modification time, so the models'
    order (``list_models`` sorts by it) stays; e.g. model.inference.runtime names the ONNX file ("onnx")."""
    path = card_path(Path(weights))
    card = dict(read_card(weights), **updates)
    before = path.stat()
    atomic_write_text(path, json.dumps(card, indent=1, sort_keys=True) + "\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    return card


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(path: str | Path) -> dict[str, Any]:
    """The card of a model (``path`` is the .safetensors or the .json); ModelFileError naming the file."""
    path = Path(path)
    card_file = path if path.suffix == ".json" else card_path(path)
    try:
        text = card_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError(f"{card_file}: model card missing (the model is incomplete or not a labeltool model)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{card_file}: cannot read model card ({exc})") from exc
    try:
        card = json.loads(text)
    except ValueError as exc:
        raise ModelFileError(f"{card_file}: model card is not valid JSON ({exc})") from exc
    if not isinstance(card, dict):
        raise ModelFileError(f"{card_file}: model card is not a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise ModelFileError(f"{card_file}: model card lacks {', '.join(missing)}")
    if card["format"] != FORMAT:
        raise ModelFileError(f"{card_file}: format {card['format']!r} is not {FORMAT!r}")
    if not isinstance(card["classes"], list) or not all(isinstance(c, str) for c in card["classes"]):
        raise ModelFileError(f"{card_file}: 'classes' must be a list of class names")
    _check_card_types(card, card_file)
    return card


def _check_card_types(card: dict[str, Any], card_file: Path) -> None:
    """Wrong types in the required keys: ModelFileError naming the card, never a traceback later."""
    for key in ("arch", "encoder"):
        if not isinstance(card[key], str) or not card[key]:
            raise ModelFileError(f"{card_file}: {key!r} must be a name (text), got {card[key]!r}")
    if not card["classes"]:
        raise ModelFileError(f"{card_file}: 'classes' is empty")
    size = card["input_size"]
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ModelFileError(f"{card_file}: 'input_size' must be [height, width] in pixels, got {size!r}")
    norm = card["normalization"]
    if not isinstance(norm, dict):
        raise ModelFileError(f"{card_file}: 'normalization' must be a JSON object "
                             f"(kind, mean, std, ...), got {type(norm).__name__} {norm!r}")

    try:
        input_affine(norm)
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{card_file}: unusable 'normalization' ({exc})") from exc


def load_model(path: str | Path, device: str | torch.device = "cpu", raw: bool = False) -> LoadedModel:
    """Load a model (.safetensors or its .json card) in eval mode. Never unpickles anything.

    A model trained at ``input_scale`` != 1 comes wrapped in ``networks.ScaledInput`` so that it takes
    full-resolution images (and returns full-resolution logits); ``raw=True`` gives the bare network.
    """
    from safetensors.torch import load_file

    path = Path(path)
    weights = path.with_suffix(".safetensors") if path.suffix == ".json" else path
    if not weights.is_file():
        raise ModelFileError(f"{weights}: model weights file not found")
    with open(weights, "rb") as fh:
        head = fh.read(16)
    if not looks_like_safetensors(head):
        kind = " (it looks like a pickle/.pt file, which labeltool never loads)" if head[:2] in (b"PK", b"\x80\x02") or head[:1] == b"\x80" else ""
        raise ModelFileError(f"{weights}: not a safetensors model file{kind}")
    card = read_card(weights)
    try:
        state = load_file(str(weights), device="cpu")
    except Exception as exc:
        raise ModelFileError(f"{weights}: unreadable or truncated safetensors file ({exc})") from exc
    try:
        net = make_net(card["arch"], card["encoder"], len(card["classes"]), int(card.get("in_channels", 3)))
    except Exception as exc:
        raise ModelFileError(f"{card_path(weights)}: cannot build {card['arch']}/{card['encoder']} ({exc})") from exc
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelFileError(f"{weights}: weights do not match {card['arch']}/{card['encoder']} "
                             f"with {len(card['classes'])} classes ({first})") from exc
    scale = card.get("input_scale", 1.0)
    if not isinstance(scale, (int, float)) or not 0.05 <= scale <= 4:
        raise ModelFileError(f"{card_path(weights)}: input_scale {scale!r} must be a number between 0.05 and 4")
    if scale != 1.0 and not raw:
        net = ScaledInput(net, scale)
    net.to(device).eval()
    return LoadedModel(net=net, card=card, path=weights)


def list_models(models_dir: str | Path) -> list[Path]:
    """Complete models (weights + card file, the card being written last), oldest first.

    A model whose card is malformed is listed too, in its place: ``read_card``/``load_model`` then refuse
    it with a ModelFileError naming the card. So a broken newest model is reported, never silently
    replaced by an older one, and a broken only model is not "no trained model yet".
    """
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    found = []
    for weights in models_dir.glob(f"{PREFIX}*.safetensors"):
        if weights.name.startswith(".") or not card_path(weights).is_file():
            continue
        found.append(weights)
    # by completion time (the card is written last), not by name: names repeat within a second
    return sorted(found, key=lambda p: (card_path(p).stat().st_mtime_ns, p.stem))


def latest_model(models_dir: str | Path) -> Path | None:
    """The newest complete model in ``models_dir``, or None (the proposer is ``active_model``).

    The newest one even when its card is malformed: loading it raises ModelFileError naming the card
    (see ``list_models``); an older model is never used in its place."""
    models = list_models(models_dir)
    return models[-1] if models else None


def check_classes(card: dict[str, Any], codes: list[str], where: str | Path | None = None) -> None:
    """Raise ModelFileError naming both lists when the model's classes differ from codes.txt."""
    classes = list(card.get("classes", []))
    if classes != list(codes):
        name = where or card.get("weights_file", "model")
        same = sorted(classes) == sorted(codes)
        why = ("the same classes in another order: its class numbers would mean other classes"
               if same else "its class numbers would mean other classes")
        raise ModelFileError(f"{name}: classes differ: this model was trained on the class list {classes}, but the "
                             f"dataset's codes.txt lists {list(codes)} ({why}); it was not used. Train a new model "
                             "on this list (a changed list's old versions are in models/codes-*.txt)")


# ---- files ----------------------------------------------------------------------------------------
def onnx_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".onnx")


def int8_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".int8.onnx")


def choice_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".runtime.json")


def derived_files(weights: str | Path) -> list[Path]:
    """Files the proposal runtime (this module, model.inference.int8, model.inference.runtime) may write beside a model's
    weights (removed with the model)."""
    return [onnx_path(weights), int8_path(weights), choice_path(weights)]

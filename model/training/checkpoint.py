"""Resumable training checkpoints without pickle: tensors in safetensors, everything else in JSON.

``<dataset>/models/.checkpoint/state.safetensors`` holds the model (``model.*``) and the optimizer's
per-parameter tensors (``optim.<param index>.<name>``); ``state.json`` (written last, so it marks a
complete checkpoint) holds the epoch, the optimizer's param groups and scalars, the LR scheduler's
state and a fingerprint of the run so that a different run never resumes from it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from model.atomic import atomic_write, atomic_write_text
from model.errors import ModelFileError
from model.registry.modelfile import state_for_saving

CHECKPOINT_DIR = ".checkpoint"


def checkpoint_dir(models_dir: Path) -> Path:
    return Path(models_dir) / CHECKPOINT_DIR


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().to("cpu").contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_flat(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if not name.startswith("optim."):
            continue
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(models_dir: Path, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    info: dict[str, Any]) -> Path:
    """Write the checkpoint (tensors first, JSON last, each atomically); returns the JSON path."""
    from safetensors.torch import save_file

    folder = checkpoint_dir(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in state_for_saving(net).items()}
    optim_tensors, optim_meta = optimizer_to_flat(optimizer)
    tensors.update(optim_tensors)
    atomic_write(folder / "state.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    payload = dict(info, optimizer=optim_meta)
    return atomic_write_text(folder / "state.json", json.dumps(payload, indent=1))


def load_checkpoint(models_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]] | None:
    """(model state, optimizer state_dict, info) of a complete checkpoint, or None when there is none."""
    from safetensors.torch import load_file

    folder = checkpoint_dir(models_dir)
    meta_path, tensor_path = folder / "state.json", folder / "state.safetensors"
    if not meta_path.is_file() or not tensor_path.is_file():
        return None
    try:
        info = json.loads(meta_path.read_text(encoding="utf-8"))
        tensors = load_file(str(tensor_path), device="cpu")
    except Exception as exc:
        raise ModelFileError(f"{folder}: checkpoint unreadable ({exc}); delete the folder to start afresh") from exc
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    optim_state = optimizer_from_flat(tensors, info.pop("optimizer"))
    return model_state, optim_state, info


def clear_checkpoint(models_dir: Path) -> None:
    shutil.rmtree(checkpoint_dir(models_dir), ignore_errors=True)

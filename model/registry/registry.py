"""Which model proposes and which models are kept: the active pointer, pins, the promotion gate, the
automatic hold-out, and the one-at-a-time training lock of a dataset.

``<dataset>/models/registry.json`` (written atomically under ``models/.registry.lock``)::

    {"version": 1, "active": "model-20260101-120000.safetensors" | null,
     "history": [previously active models, oldest first], "pinned": [model file names],
     "holdout": [image names held out automatically for validation]}

Rules (one place each):

- **Active model** = the registry's ``active`` when that model is complete; otherwise (a dataset from
  before the registry, or the file was removed by hand) the newest model the gate did not turn down.
  Proposals, evaluation and fine-tuning use it.
- **Promotion gate** (model.registry.gate, re-exported here): at the end of a retrain the new model, the active
  model and the best model are scored on the same validation images, none of which any of them trained
  on; the new one becomes active when its mIoU is at most ``MIOU_TOLERANCE`` below the active model's and
  at most ``MIOU_TOLERANCE`` below the best model's (no drift). Too few such images: not promoted
  automatically. With nothing to compare against (no active model, another class list, no held-out
  image) it is promoted and the card says why.
- **Best model** (``best_model``): the highest validation mIoU recorded in its card.
- **Rollback target** (``rollback_target``): the most recent previously active model still on disk.
- **Kept models**: the ``KEEP_MODELS`` newest, plus the active, the rollback target, pinned and best
  models, which are never pruned.
- **Automatic hold-out** (``choose_holdout``): when valid.txt names no corrected image, about
  ``HOLDOUT_FRACTION`` of the corrected images are held out, whole sequences when the names show them
  (model.datasets.split's grouping), never images the active model trained on when others exist, and
  the same images stay held out in later retrains (so every model is scored on images it never saw).
  The rule is in model.training.holdout; the training lock in model.training.train_lock (both re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_text
from model.errors import LabeltoolError, ModelFileError
from model.filelock import flocked

from .gate import Contender, seen_images
from .modelfile import KEEP_MODELS, card_path, check_classes, derived_files, list_models, load_model, read_card

REGISTRY_FILE = "registry.json"
REGISTRY_LOCK = ".registry.lock"


# ---- registry file -------------------------------------------------------------------------------
def registry_path(models_dir: str | Path) -> Path:
    return Path(models_dir) / REGISTRY_FILE


def _empty() -> dict[str, Any]:
    return {"version": 1, "active": None, "history": [], "pinned": [], "holdout": []}


def read_registry(models_dir: str | Path) -> dict[str, Any]:
    """The registry (defaults when absent; an unreadable file counts as absent and is rewritten on change)."""
    data = _empty()
    try:
        loaded = json.loads(registry_path(models_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return data
    if isinstance(loaded, dict):
        for key, default in data.items():
            value = loaded.get(key, default)
            if isinstance(value, type(default)) or (key == "active" and (value is None or isinstance(value, str))):
                data[key] = value
    return data


def update_registry(models_dir: str | Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read-modify-write of registry.json under its lock (the app and a terminal may both change it)."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    with flocked(models_dir / REGISTRY_LOCK):
        data = read_registry(models_dir)
        change(data)
        atomic_write_text(registry_path(models_dir), json.dumps(data, indent=1, sort_keys=True) + "\n")
    return data


# ---- which model ---------------------------------------------------------------------------------
def _card(path: Path) -> dict[str, Any]:
    try:
        return read_card(path)
    except ModelFileError:
        return {}


def _rejected(card: dict[str, Any]) -> bool:
    return (card.get("gate") or {}).get("promoted") is False


def active_model(models_dir: str | Path, models: list[Path] | None = None) -> Path | None:
    """The model that proposes (see the module docstring); None only when there is no complete model."""
    models = list_models(models_dir) if models is None else models
    if not models:
        return None
    reg = read_registry(models_dir)
    by_name = {p.name: p for p in models}
    for name in [reg["active"], *reversed(reg["history"])]:
        if name in by_name:
            return by_name[name]
    for path in reversed(models):
        if not _rejected(_card(path)):
            return path
    return models[-1]


def validation_miou(card: dict[str, Any]) -> float | None:
    value = ((card.get("validation") or {}).get("metrics") or {}).get("miou")
    if value is None and (card.get("validation") or {}).get("images") is None:
        value = (card.get("metrics") or {}).get("miou")  # cards from before the registry
    return float(value) if isinstance(value, (int, float)) else None


def best_model(models_dir: str | Path, models: list[Path] | None = None,
               classes: list[str] | None = None) -> Path | None:
    """The model with the highest validation mIoU recorded in its card (None when none was validated);
    with ``classes``, among the models made for that class list only (the gate's "best")."""
    models = list_models(models_dir) if models is None else models
    cards = [(_card(p), i, p) for i, p in enumerate(models)]
    scored = [(validation_miou(c), i, p) for c, i, p in cards if classes is None or c.get("classes") == list(classes)]
    scored = [s for s in scored if s[0] is not None]
    return max(scored)[2] if scored else None


def contenders(models_dir: str | Path, classes: list[str],
               load: Callable[[Path], tuple[dict, Callable[[list[str]], dict]]]) -> tuple[list[Contender], Path | None]:
    """The models a candidate is compared with: the active model and, when another one, the best model
    made for these classes. ``load(path)`` gives (card, score) or raises LabeltoolError
    (then it is named with the reason and left out). Returns (contenders, the active model's path)."""
    active = active_model(models_dir)
    best = best_model(models_dir, classes=classes)
    found = []
    for role, path in (("active", active), ("best", best)):
        if path is None or (role == "best" and active is not None and path.name == active.name):
            continue
        try:
            card, score = load(path)
        except LabeltoolError as exc:
            found.append(Contender(role, path.name, None, None, str(exc)))
            continue
        found.append(Contender(role, path.name, seen_images(card, models_dir), score))
    return found, active


def rollback_target(models_dir: str | Path, models: list[Path] | None = None) -> Path | None:
    """The model ``roll_back`` would make active: the most recent previously active model still on disk."""
    models = list_models(models_dir) if models is None else models
    by_name = {p.name: p for p in models}
    current = active_model(models_dir, models)
    history = [n for n in read_registry(models_dir)["history"] if n in by_name and (current is None or n != current.name)]
    return by_name[history[-1]] if history else None


def protected_models(models_dir: str | Path, models: list[Path] | None = None) -> set[str]:
    """File names of the models pruning never deletes: active, rollback target, pinned and best."""
    models = list_models(models_dir) if models is None else models
    keep = set(read_registry(models_dir)["pinned"])
    for path in (active_model(models_dir, models), rollback_target(models_dir, models), best_model(models_dir, models)):
        if path is not None:
            keep.add(path.name)
    return keep


def resolve_model(models_dir: str | Path, name: str) -> Path:
    """A model of this dataset by file name, stem or path; ModelFileError listing the models otherwise."""
    models = list_models(models_dir)
    wanted = Path(name).name
    for path in models:
        if wanted in (path.name, path.stem, card_path(path).name):
            return path
    known = ", ".join(p.stem for p in models) or "none yet"
    raise ModelFileError(f"{Path(models_dir) / wanted}: no such complete model in this dataset (models: {known})")


# ---- actions (the Models panel and `labeltool models`) ---------------------------------------------
def promote(models_dir: str | Path, name: str) -> Path:
    """Make a model the active one (by hand: the gate is not asked)."""
    path = resolve_model(models_dir, name)
    previous = active_model(models_dir)

    def change(reg):
        if previous is not None and previous.name != path.name:
            reg["history"] = [n for n in reg["history"] if n != previous.name] + [previous.name]
        reg["history"] = [n for n in reg["history"] if n != path.name]
        reg["active"] = path.name

    update_registry(models_dir, change)
    return path


def roll_back(models_dir: str | Path) -> Path:
    """Make the previously active model active again."""
    current = active_model(models_dir)
    path = rollback_target(models_dir)
    if path is None:
        raise ModelFileError(f"{registry_path(models_dir)}: no earlier active model to roll back to")
    target = path.name

    def change(reg):
        reg["history"] = [n for n in reg["history"] if n not in (target,)]
        if current is not None:
            reg["history"] = [n for n in reg["history"] if n != current.name]
        reg["active"] = target

    update_registry(models_dir, change)
    return path


def pin(models_dir: str | Path, name: str, pinned: bool = True) -> Path:
    """Pin (never pruned) or unpin a model."""
    path = resolve_model(models_dir, name)

    def change(reg):
        names = [n for n in reg["pinned"] if n != path.name]
        reg["pinned"] = names + ([path.name] if pinned else [])

    update_registry(models_dir, change)
    return path


def delete(models_dir: str | Path, name: str) -> Path:
    """Delete a model's weights and card; refused for the active or a pinned model."""
    path = resolve_model(models_dir, name)
    active = active_model(models_dir)
    if active is not None and active.name == path.name:
        raise ModelFileError(f"{path}: is the active model; promote another one (or roll back) before deleting it")
    if path.name in read_registry(models_dir)["pinned"]:
        raise ModelFileError(f"{path}: is pinned; unpin it before deleting it")

    for file in (path, card_path(path), *derived_files(path)):
        file.unlink(missing_ok=True)
    update_registry(models_dir, lambda reg: reg.__setitem__("history", [n for n in reg["history"] if n != path.name]))
    return path


def record_trained(models_dir: str | Path, path: Path, promoted: bool, previous: Path | None,
                   holdout: list[str] | None) -> None:
    """After a retrain: the active pointer (new model if promoted, else the one it was compared with) and
    the automatic hold-out kept for the next retrains."""

    def change(reg):
        if promoted:
            if previous is not None:
                reg["history"] = [n for n in reg["history"] if n != previous.name] + [previous.name]
            reg["active"] = path.name
        elif previous is not None and reg["active"] is None:
            reg["active"] = previous.name
        if holdout is not None:
            reg["holdout"] = sorted(set(holdout))

    update_registry(models_dir, change)
    prune_models(models_dir, KEEP_MODELS)  # after the active pointer moved: it is protected


# ---- what the panel and `labeltool models --json` show ---------------------------------------------
def _figure(value) -> float | None:
    return round(float(value), 4) if isinstance(value, (int, float)) else None


def model_rows(models_dir: str | Path, codes: list[str] | None = None) -> list[dict[str, Any]]:
    """One dict per complete model, newest first: exactly what the Models panel lists (``classes_differ``:
    made for another class list than ``codes``, the dataset's; such a model is refused)."""
    models = list_models(models_dir)
    active, best = active_model(models_dir, models), best_model(models_dir, models)
    pinned = set(read_registry(models_dir)["pinned"])
    rows = []
    for path in reversed(models):
        card = _card(path)
        validation = card.get("validation") or {}
        vmetrics = validation.get("metrics") or {}
        gate = card.get("gate") or {}
        training = card.get("training") or {}
        val_images = validation.get("images", training.get("validation_images")) or []
        rows.append({
            "name": path.name,
            "date": card.get("date"),
            "arch": card.get("arch"),
            "encoder": card.get("encoder"),
            "input_scale": card.get("input_scale"),
            "training_images": len(card.get("training_images") or []),
            "validation_images": len(val_images),
            "validation_source": validation.get("source"),
            "pixel_accuracy": _figure(vmetrics.get("pixel_accuracy", (card.get("metrics") or {}).get("pixel_accuracy"))),
            "miou": _figure(validation_miou(card)),
            "active": active is not None and path.name == active.name,
            "pinned": path.name in pinned,
            "best": best is not None and path.name == best.name,
            "promoted": gate.get("promoted"),
            "compared_with": (gate.get("active") or {}).get("name"),
            "compared_miou": _figure((gate.get("active") or {}).get("miou")),
            "compared_best": (gate.get("best") or {}).get("name"),
            "compared_best_miou": _figure((gate.get("best") or {}).get("miou")),
            "compared_images": len(gate["images"]) if isinstance(gate.get("images"), list) else None,
            "gate_reason": gate.get("reason"),
            "seconds": training.get("seconds"),
            "epochs": training.get("epochs"),
            "classes": card.get("classes"),
            "classes_differ": codes is not None and card.get("classes") != list(codes),
        })
    return rows


__all__ = ["active_model", "best_model", "contenders", "delete", "model_rows", "pin", "promote", "protected_models",
           "read_registry", "record_trained", "resolve_model", "roll_back", "rollback_target", "update_registry"]


def prune_models(models_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest complete models (weights and card); a retrain adds ~20-100 MB.
    The active model, the rollback target (the previously active one), pinned and best models
    (model.registry.registry.protected_models) are never deleted, however many retrains the gate turned down.
    Only called once a new model is complete, so the previous one survives any failed run."""

    models = list_models(models_dir)
    protected = protected_models(models_dir, models)
    removed = []
    for weights in models[:-keep] if keep > 0 else []:
        if weights.name in protected:
            continue
        for path in (weights, card_path(weights), *derived_files(weights)):
            path.unlink(missing_ok=True)
        removed.append(weights)
    return removed


def resolve_model_path(project, model_path: str | Path | None = None) -> Path:
    """``model_path`` if given, else the project's active model (model.registry); ModelFileError if none."""
    if model_path is not None:
        path = Path(model_path)
        if not path.exists():
            raise ModelFileError(f"{path}: model file not found")
        return path
    path = active_model(project.models_dir)  # the model the promotion gate (or the user) made active
    if path is None:
        raise ModelFileError(f"{project.models_dir}: no trained model yet; train one first "
                             "(labeltool train DATASET) or give --model PATH")
    return path


def load_checked_model(project, model_path: str | Path | None = None, device: str | None = None):
    """Load the model and refuse it (ModelFileError naming both class lists) if its classes are not
    the project's codes."""

    path = resolve_model_path(project, model_path)
    loaded = load_model(path, device="cpu" if device is None else device)
    check_classes(loaded.card, project.codes, where=path)
    return loaded

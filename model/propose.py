"""Proposing masks: run the model over the images nobody has corrected yet.

A corrected mask is never overwritten: the status is checked when choosing the images, again just
before each write, and ``Project.save_mask`` refuses a proposal over a corrected mask under its lock
(a person may correct an image in the app while this runs). Each proposal comes with its per-pixel
confidence (``project.confidence_path(name)``, an 8-bit PNG, 255 = certain) and its mean confidence
in ``ROOT/.labeltool/uncertainty.json``, so the app can offer the least certain images first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .atomic import atomic_write, atomic_write_text
from .errors import LabeltoolError, MaskError, ModelFileError
from .imageio import read_image

UNCERTAINTY_FILE = "uncertainty.json"
LOW_CONFIDENCE = 0.5  # pixels below this count as "unsure" in the summary


def resolve_model_path(project, model_path: str | Path | None = None) -> Path:
    """``model_path`` if given, else the newest complete model in the project; ModelFileError if none."""
    from .modelfile import latest_model

    if model_path is not None:
        path = Path(model_path)
        if not path.exists():
            raise ModelFileError(f"{path}: model file not found")
        return path
    path = latest_model(project.models_dir)
    if path is None:
        raise ModelFileError(f"{project.models_dir}: no trained model yet; train one first "
                             "(labeltool train DATASET) or give --model PATH")
    return path


def load_checked_model(project, model_path: str | Path | None = None, device: str | None = None):
    """Load the model and refuse it (ModelFileError naming both class lists) if its classes are not
    the project's codes."""
    from .modelfile import check_classes, load_model

    path = resolve_model_path(project, model_path)
    loaded = load_model(path, device="cpu" if device is None else device)
    check_classes(loaded.card, project.codes, where=path)
    return loaded


def uncertainty_path(project) -> Path:
    return Path(project.root) / ".labeltool" / UNCERTAINTY_FILE


def _read_uncertainty_file(project) -> dict[str, Any]:
    path = uncertainty_path(project)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    images = data.get("images") if isinstance(data, dict) else None
    return images if isinstance(images, dict) else {}


def read_uncertainty(project) -> dict[str, float]:
    """name -> mean confidence (0..1, lower = less certain) of the latest proposal for that image.
    A missing or unreadable file gives {}."""
    out: dict[str, float] = {}
    for name, record in _read_uncertainty_file(project).items():
        value = record.get("mean_confidence") if isinstance(record, dict) else record
        if isinstance(value, (int, float)):
            out[str(name)] = float(value)
    return out


def rank_by_uncertainty(project) -> list[str]:
    """Images whose mask is still a proposal, least certain first."""
    scores = read_uncertainty(project)
    names = [n for n in project.names() if n in scores and project.status(n) == "proposed"]
    return sorted(names, key=lambda n: (scores[n], n))


def _write_uncertainty(project, updates: dict[str, dict[str, Any]]) -> None:
    images = _read_uncertainty_file(project)
    images.update(updates)
    text = json.dumps({"version": 1, "images": images}, indent=1, sort_keys=True) + "\n"
    atomic_write_text(uncertainty_path(project), text)


def write_confidence(path: str | Path, confidence: np.ndarray) -> Path:
    """Store a 0..1 confidence map as an 8-bit greyscale PNG (atomic)."""
    scaled = np.clip(np.rint(np.asarray(confidence, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    image = Image.fromarray(scaled, mode="L")
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG", compress_level=3))


def read_confidence(path: str | Path) -> np.ndarray:
    """A stored confidence map back as (H, W) float32 in 0..1."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def propose_dataset(
    project,
    model_path: str | Path | None = None,
    names: Iterable[str] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    batch_size: int = 4,
    *,
    tta_flip: bool = False,
    device: str | None = None,
    predictor=None,
    on_error: Callable[[str, Exception], None] | None = None,
) -> list[str]:
    """Propose masks for ``names`` (default: every image) that have no corrected mask.

    Writes each mask with status "proposed", its confidence PNG and its uncertainty summary; returns
    the names written, in order. ``on_progress(done, total, name)`` follows each image; ``cancel()``
    returning True stops between images (what was written stays). ``on_error(name, exc)``, if given,
    is told about an unreadable image and the run goes on; without it the error is raised.
    ``predictor`` (a ready ``Predictor``) skips loading the model; ModelFileError when the model's
    classes differ from the project's codes either way.
    """
    from .predict import Predictor

    if predictor is None:
        loaded = load_checked_model(project, model_path, device)
        predictor = Predictor(loaded, device=device, tta_flip=tta_flip, batch_size=batch_size)
        model_name = loaded.path.name
    else:
        if predictor.classes is not None and predictor.classes != list(project.codes):
            raise ModelFileError(f"model classes {predictor.classes} differ from the dataset's codes.txt "
                                 f"classes {list(project.codes)}")
        model_name = str(getattr(predictor, "model_name", "model"))
    wanted = project.names() if names is None else list(names)
    for name in wanted:
        project.image_path(name)  # unknown name -> DatasetError naming it
    todo = [n for n in wanted if project.status(n) != "corrected"]
    total = len(todo)
    written: list[str] = []
    done = 0
    step = max(1, int(batch_size))
    for start in range(0, total, step):
        if cancel is not None and cancel():
            break
        chunk, images = [], []
        for name in todo[start:start + step]:
            try:
                images.append(read_image(project.image_path(name)))
                chunk.append(name)
            except LabeltoolError as exc:
                if on_error is None:
                    raise
                on_error(name, exc)
                done += 1
                if on_progress is not None:
                    on_progress(done, total, name)
        predictions = predictor.predict_many(images) if images else []
        summary: dict[str, dict[str, Any]] = {}
        stopped = False
        for name, pred in zip(chunk, predictions, strict=True):
            if cancel is not None and cancel():
                stopped = True
                break
            if _write_proposal(project, name, pred):
                written.append(name)
                conf = pred.confidence
                summary[name] = {"mean_confidence": round(float(conf.mean()), 6),
                                 "unsure_fraction": round(float((conf < LOW_CONFIDENCE).mean()), 6),
                                 "model": model_name}
            done += 1
            if on_progress is not None:
                on_progress(done, total, name)
        if summary:
            _write_uncertainty(project, summary)
        if stopped:
            break
    return written


def _write_proposal(project, name: str, pred) -> bool:
    """Save one proposal unless the image got a corrected mask meanwhile; True when written."""
    if project.status(name) == "corrected":
        return False
    try:
        project.save_mask(name, pred.mask, "proposed")
    except MaskError:
        if project.status(name) == "corrected":  # corrected between our check and the write
            return False
        raise
    write_confidence(project.confidence_path(name), pred.confidence)
    return True

"""Evaluating a model on a split's corrected masks: one confusion matrix over the whole split,
reduced to per-class IoU, mIoU and pixel accuracy (Void not scored); saved as JSON and as a PNG."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model.atomic import atomic_write, atomic_write_text
from model.errors import DatasetError, ModelFileError
from model.images.imageio import read_raw
from model.inference.predict import Predictor
from model.registry.registry import load_checked_model

from .metrics import ConfusionAccumulator

SPLITS = ("valid", "test")


def split_names(project, split: str) -> list[str]:
    """Images of ``split`` that have a corrected mask, in project order; DatasetError if none."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    list_file = Path(project.root) / f"{split}.txt"
    if not list_file.exists():
        raise DatasetError(list_file, f"missing: the {split} split is the list of image names in this file")
    listed = project.valid_names() if split == "valid" else project.test_names()
    corrected = set(project.corrected_names())
    names = [n for n in project.names() if n in listed and n in corrected]
    if not names:
        raise DatasetError(list_file, f"no image of the {split} split ({len(listed)} listed) has a corrected "
                                      "mask; correct some masks of these images first")
    return names


def evaluate_project(
    project,
    split: str = "valid",
    model_path: str | Path | None = None,
    *,
    predictor=None,
    device: str | None = None,
    tta_flip: bool = False,
    batch_size: int = 4,
    on_progress: Callable[[int, int, str], None] | None = None,
    save: bool = True,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """Run the model (latest, ``model_path`` or a ready ``predictor``) over the split's corrected
    images. Returns the metrics dict (see ``metrics_from_confusion``) plus ``split``, ``model``,
    ``images`` and, when saved, ``json_path`` and ``confusion_png``."""

    names = split_names(project, split) if names is None else list(names)  # names: e.g. a retrain's hold-out
    model_name = "model"
    if predictor is None:
        loaded = load_checked_model(project, model_path, device)
        predictor = Predictor(loaded, device=device, tta_flip=tta_flip, batch_size=batch_size)
        model_name = loaded.path.name
    elif predictor.classes is not None and predictor.classes != list(project.codes):
        raise ModelFileError(f"model classes {predictor.classes} differ from the dataset's codes.txt "
                             f"classes {list(project.codes)}")
    codes = list(project.codes)
    acc = ConfusionAccumulator(len(codes), project.void_index)
    step = max(1, int(batch_size))
    for start in range(0, len(names), step):
        chunk = names[start:start + step]
        images = [read_raw(project.image_path(n)) for n in chunk]  # the data as stored; Predictor normalises
        for k, (name, pred) in enumerate(zip(chunk, predictor.predict_many(images), strict=True)):
            truth = project.load_mask(name)
            if int(pred.mask.max(initial=0)) >= len(codes):
                raise ModelFileError(f"{model_name}: predicted class {int(pred.mask.max())} but the dataset "
                                     f"has {len(codes)} classes")
            acc.update(pred.mask, truth)
            if on_progress is not None:
                on_progress(start + k + 1, len(names), name)
    result = acc.metrics(codes)
    result.update(split=split, model=model_name, images=names, num_images=len(names),
                  tta_flip=bool(predictor.tta_flip),
                  date=_dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    if save:
        models_dir = Path(project.models_dir)
        json_path = models_dir / f"eval-{split}.json"
        png_path = models_dir / f"eval-{split}-confusion.png"
        result["json_path"] = str(json_path)
        result["confusion_png"] = str(png_path)
        save_confusion_png(png_path, acc.matrix, codes, project.void_index)
        atomic_write_text(json_path, json.dumps(result, indent=1, allow_nan=False) + "\n")
    return result


def format_table(result: dict[str, Any]) -> str:
    """Per-class IoU, then mIoU and pixel accuracy, as aligned text."""
    ious = result["per_class_iou"]
    width = max([len("mIoU"), *(len(n) for n in ious)])
    lines = [f"{'class':<{width}}  {'IoU':>7}  {'pixels':>10}"]
    for name, iou in ious.items():
        support = result.get("per_class", {}).get(name, {}).get("support", "")
        shown = "    n/a" if iou is None else f"{iou:7.4f}"
        lines.append(f"{name:<{width}}  {shown}  {support:>10}")
    lines.append("-" * len(lines[0]))

    def fmt(v):
        return "n/a" if v is None else f"{v:.4f}"

    lines.append(f"{'mIoU':<{width}}  {fmt(result['miou']):>7}")
    lines.append(f"pixel accuracy (Void excluded) {fmt(result['pixel_accuracy'])} over "
                 f"{result.get('num_pixels', 0)} pixels in {result.get('num_images', '?')} images")
    return "\n".join(lines)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def render_confusion(cm: np.ndarray, class_names: list[str], ignore_index: int | None = None) -> Image.Image:
    """Row-normalised confusion matrix (rows truth, columns prediction) as an RGB image; each cell
    shows the share of its truth row in percent, shaded white -> dark blue."""
    cm = np.asarray(cm, dtype=np.int64)
    keep = [i for i in range(len(class_names)) if i != ignore_index or cm[:, i].any()]
    rows = [i for i in keep if i != ignore_index]
    n_rows, n_cols = len(rows), len(keep)
    cell, font, small = 44, _font(13), _font(11)
    label_w = 12 + max(int(font.getlength(class_names[i])) for i in keep)
    top = label_w + 24
    left = label_w + 24
    image = Image.new("RGB", (left + n_cols * cell + 12, top + n_rows * cell + 12), "white")
    draw = ImageDraw.Draw(image)
    draw.text((4, 4), "rows: truth, columns: prediction (% of row)", fill="black", font=small)
    for c, j in enumerate(keep):  # column labels, rotated
        label = Image.new("RGBA", (label_w, cell), (255, 255, 255, 0))
        ImageDraw.Draw(label).text((4, cell // 2 - 7), class_names[j], fill="black", font=font)
        label = label.rotate(90, expand=True)
        image.paste(label, (left + c * cell, top - label_w - 4), label)
    for r, i in enumerate(rows):
        draw.text((8, top + r * cell + cell // 2 - 7), class_names[i], fill="black", font=font)
        total = int(cm[i].sum())
        for c, j in enumerate(keep):
            share = cm[i, j] / total if total else 0.0
            shade = (int(255 - 220 * share), int(255 - 180 * share), int(255 - 60 * share))
            x0, y0 = left + c * cell, top + r * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=shade, outline=(200, 200, 200))
            if total:
                text = f"{100 * share:.0f}"
                colour = "white" if share > 0.55 else "black"
                tw = font.getlength(text)
                draw.text((x0 + (cell - tw) / 2, y0 + cell // 2 - 7), text, fill=colour, font=font)
            if i == j:
                draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], outline=(0, 0, 0), width=2)
    return image


def save_confusion_png(path: str | Path, cm: np.ndarray, class_names: list[str],
                       ignore_index: int | None = None) -> Path:
    image = render_confusion(cm, class_names, ignore_index)
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))

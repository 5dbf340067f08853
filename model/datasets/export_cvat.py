"""Export to CVAT "CamVid 1.0" (datumaro's camvid format), importable into a CVAT task or project:

    label_colors.txt             "R G B Name" per class
    <subset>/NAME.png|jpg        images; subsets train/val/test from valid.txt and test.txt,
    <subset>annot/NAME.png       RGB masks painted with the class colours   or "default" when there is no split
    <subset>.txt                 "/<subset>/NAME.png /<subset>annot/NAME.png" per image
    unchecked.list               with --include-proposals: the images whose mask nobody checked (not a
                                 .txt: CVAT reads every .txt here as a subset list)

Only corrected masks are exported unless ``include_proposals``; then images without a mask are listed
without one too (model.datasets.unchecked).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_text
from model.errors import DatasetError
from model.images.imageio import write_image

from .export_fastai import load_source, read_checked_mask, selected_names
from .staging import copy_file, staged
from .unchecked import write_unchecked

SUBSET_NAMES = {"train": "train", "valid": "val", "test": "test"}


def label_colors_text(names: list[str], palette: np.ndarray, source: Path) -> str:
    seen: dict[tuple[int, int, int], str] = {}
    lines = []
    for name, colour in zip(names, np.asarray(palette, dtype=np.uint8), strict=True):
        rgb = tuple(int(c) for c in colour)
        if any(ch.isspace() for ch in name):
            raise DatasetError(source, f"class {name!r} has a space; CVAT's label_colors.txt reads one word per name")
        if rgb in seen:
            raise DatasetError(source, f"classes {seen[rgb]!r} and {name!r} share the colour {rgb}; colour masks "
                                       "need one colour per class (change one in the app)")
        seen[rgb] = name
        lines.append(f"{rgb[0]} {rgb[1]} {rgb[2]} {name}\n")
    return "".join(lines)


def export_cvat(src: str | Path, dst: str | Path, include_proposals: bool = False, force: bool = False,
                log: Callable[[str], None] | None = None) -> dict:
    data = load_source(src)
    chosen = selected_names(data, include_proposals, labelled_only=False)
    names = chosen.names
    colours_text = label_colors_text(data.codes, data.palette, data.root / "codes.txt")
    split = any(data.lists.get(s) for s in ("valid", "test"))
    counts = {"train": 0, "valid": 0, "test": 0, "unlabelled": 0, **chosen.counts()}
    lists: dict[str, list[str]] = {}
    with staged(dst, force=force, src=data.root) as tmp:
        atomic_write_text(tmp / "label_colors.txt", colours_text)
        for number, name in enumerate(names, start=1):
            _, mask = read_checked_mask(data, name)
            image = data.images[name]
            subset = data.subset_of(name)
            folder = SUBSET_NAMES[subset] if split else "default"
            suffix = ".jpg" if image.suffix.lower() in (".jpg", ".jpeg") else ".png"
            copy_file(image, tmp / folder / f"{name}{suffix}")
            line = f"/{folder}/{name}{suffix}"
            if mask is not None:
                write_image(tmp / f"{folder}annot" / f"{name}.png", data.palette[mask])
                line += f" /{folder}annot/{name}.png"
            else:
                counts["unlabelled"] += 1
            lists.setdefault(folder, []).append(line + "\n")
            counts[subset] += 1
            if log is not None and number % 100 == 0:
                log(f"  {number}/{len(names)} images")
        for folder, lines in lists.items():
            atomic_write_text(tmp / f"{folder}.txt", "".join(lines))
        write_unchecked(tmp, chosen.unchecked)
    return counts

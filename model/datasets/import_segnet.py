"""SegNet's CamVid-11 layout: ``train/``, ``trainannot/``, ``val/``, ``valannot/``, ``test/``, ``testannot/``
and ``train.txt``-style lists whose lines are "IMAGE_PATH MASK_PATH" with absolute paths from another
machine (only the file names count). Masks are single-channel PNGs holding class indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.errors import DatasetError
from model.images.imageio import IMAGE_SUFFIXES, read_mask
from model.project.codes import CAMVID11_CODES
from model.project.layout import read_list
from model.project.palette import default_palette

from .import_colour import load_class_file
from .native import Item
from .plan import ImportPlan, subset_for
from .staging import check_name, entry_basename

# The colours the SegNet tutorial uses for its 11 classes and Void.
SEGNET_COLOURS = np.array([
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 0),
], dtype=np.uint8)
SUBSET_ORDER = ("train", "val", "test")


def subset_folders(src: Path) -> list[str]:
    """Names X for which both ``X/`` and ``Xannot/`` exist, train/val/test first."""
    found = [p.name[: -len("annot")] for p in src.iterdir() if p.is_dir() and p.name.endswith("annot")]
    found = [name for name in found if name and (src / name).is_dir()]
    return sorted(found, key=lambda n: (SUBSET_ORDER.index(n) if n in SUBSET_ORDER else len(SUBSET_ORDER), n))


def plan_segnet(src: Path, class_file: Path | None) -> ImportPlan:
    names, table = list(CAMVID11_CODES), SEGNET_COLOURS.copy()
    colour_table = None
    if class_file is not None:
        names, colour_table = load_class_file(class_file)
        if colour_table is not None:
            table = colour_table
        else:
            table = default_palette(names)
    plan = ImportPlan("segnet", names, table, [], None)

    def read(item: Item, size: tuple[int, int]) -> np.ndarray:
        return read_mask(item.mask, len(names), colour_table=colour_table, expected_size=size)

    plan.mask_reader = read
    folders = subset_folders(src)
    if not folders:
        raise DatasetError(src, "no SegNet subset folders (train/ with trainannot/, val/ with valannot/, ...)")
    for folder in folders:
        plan.items.extend(_subset_items(src, folder, plan.warnings))
    return plan


def _subset_items(src: Path, folder: str, warnings: list[str]) -> list[Item]:
    images_dir, annot_dir = src / folder, src / f"{folder}annot"
    subset = subset_for(folder)
    on_disk = sorted(p for p in images_dir.iterdir()
                     if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
    list_path = src / f"{folder}.txt"
    if not list_path.is_file():
        items = []
        for image in on_disk:
            mask = annot_dir / f"{image.stem}.png"
            items.append(Item(check_name(image.stem, image), image, mask if mask.is_file() else None, subset))
        return items
    items, listed = [], set()
    for line, fields in read_list(list_path):
        image = images_dir / entry_basename(fields[0], list_path, line)
        mask = annot_dir / entry_basename(fields[1], list_path, line) if len(fields) > 1 else None
        for path in (image, mask):
            if path is not None and not path.is_file():
                raise DatasetError(list_path, f"line {line}: {path.parent.name}/{path.name} does not exist")
        if image.name in listed:
            raise DatasetError(list_path, f"line {line}: {image.name} is listed twice")
        listed.add(image.name)
        items.append(Item(check_name(image.stem, list_path), image, mask, subset))
    unlisted = [p.name for p in on_disk if p.name not in listed]
    if unlisted:
        warnings.append(f"{images_dir}: {len(unlisted)} images not in {list_path.name} were left out "
                        f"(first: {unlisted[0]})")
    return items

"""Export to the layout fastai trains on unchanged:

    path/images/NAME.png|jpg     training and validation images
    path/labels/NAME_P.png       one greyscale (mode L) PNG per image, pixel = class index
    path/codes.txt               class names, line number = class index
    path/valid.txt               validation image file names (relative to images/), LF line endings
    path/test/NAME.png + test.txt  held-out test images, kept out of images/ so they never train
    path/unchecked.list          with --include-proposals: the images whose mask nobody checked

Only corrected masks are exported unless ``include_proposals`` (model.datasets.unchecked).

Masks are greyscale, not indexed-with-colours like the native ones: fastai opens a mask with
``Image.open(fn).convert('L')``, which turns a palette image into the grey level of each class *colour*.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from model.atomic import atomic_write
from model.errors import DatasetError
from model.images.imageio import MASK_SUFFIX, read_image, read_mask
from model.project.codes import write_codes
from model.project.project import Project  # keeps the class colours for a later import

from .native import NativeDataset, scan_native, write_list
from .staging import copy_file, staged
from .unchecked import Selection, require_some, select, write_unchecked


def load_source(src: str | Path) -> NativeDataset:
    """The native dataset to export, read-only; any problem ``labeltool check`` reports stops the export."""
    data = scan_native(src)
    data.raise_first()
    for name, mask in data.labels.items():
        if name not in data.images:
            raise DatasetError(mask, "mask with no image; run `labeltool check` for the full list")
    return data


def selected_names(data: NativeDataset, include_proposals: bool, labelled_only: bool) -> Selection:
    """What to export: corrected masks only, unless ``include_proposals`` (model.datasets.unchecked)."""
    chosen = select(data.statuses, data.images, data.labels, include_proposals, labelled_only)
    require_some(chosen, data.root, include_proposals)
    return chosen


def read_checked_mask(data: NativeDataset, name: str):
    """(image size, mask) with the mask checked against its image size and the class count."""
    height, width = read_image(data.images[name]).shape[:2]
    mask = None
    if name in data.labels:
        mask = read_mask(data.labels[name], len(data.codes), expected_size=(width, height))
    return (width, height), mask


def write_grey_mask(path: Path, mask: np.ndarray) -> None:
    """A mode-L PNG whose pixel values are the class indices (what fastai's PILMask reads unchanged)."""
    image = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8))
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG", compress_level=3))


def export_fastai(src: str | Path, dst: str | Path, include_proposals: bool = False, force: bool = False,
                  log: Callable[[str], None] | None = None) -> dict:
    data = load_source(src)
    chosen = selected_names(data, include_proposals, labelled_only=True)
    names = chosen.names
    counts = {"train": 0, "valid": 0, "test": 0, **chosen.counts()}
    lists: dict[str, list[str]] = {"valid": [], "test": []}
    with staged(dst, force=force, src=data.root) as tmp:
        write_codes(tmp / "codes.txt", data.codes)
        for number, name in enumerate(names, start=1):
            _, mask = read_checked_mask(data, name)
            image = data.images[name]
            subset = data.subset_of(name)
            file_name = f"{name}{image.suffix.lower()}"
            copy_file(image, tmp / ("test" if subset == "test" else "images") / file_name)
            write_grey_mask(tmp / "labels" / f"{name}{MASK_SUFFIX}", mask)
            counts[subset] += 1
            if subset in lists:
                lists[subset].append(file_name)
            if log is not None and number % 100 == 0:
                log(f"  {number}/{len(names)} images")
        write_list(tmp / "valid.txt", lists["valid"])
        if lists["test"]:
            write_list(tmp / "test.txt", lists["test"])
        write_unchecked(tmp, chosen.unchecked)
        Project.open(tmp).set_palette(data.palette)
    return counts

"""Export to COCO (what pycocotools, detectron2, mmdetection and CVAT read):

    DST/annotations/instances_<split>.json    split = train / val / test (from valid.txt and test.txt)
    DST/images/<split>/NAME.png|jpg           the images, copied byte for byte

Every class is a category (id = class index + 1, with its colour and ``isthing``); masks are RLE
(``pycocotools.mask.encode``). A class is exported either **semantically**, one annotation holding all
its pixels in an image (the default; COCO-stuff style), or as **instances**, one annotation per object
(4-connected region, the rule of :mod:`labeltool.editing.instances`). Semantic annotations have
``iscrowd`` 0 unless the class is named in ``crowd`` (then 1, "a group of objects" that detection
training ignores); instances always have 0. Void pixels get no annotation; the Void class is kept as a
category so a re-import restores the class list exactly. Images without a mask are left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_text
from model.codes import find_void
from model.errors import DatasetError

from .export_fastai import load_source, read_checked_mask, selected_names
from .staging import copy_file, staged

SPLIT_NAMES = {"train": "train", "valid": "val", "test": "test"}


def encode_rle(region: np.ndarray) -> dict:
    """A boolean HxW mask as COCO compressed RLE (``counts`` as text, JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(region, dtype=np.uint8))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _bbox(region: np.ndarray) -> list[float]:
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    return [float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)]


def _class_set(names: Iterable[str] | None, codes: list[str], what: str, source: Path) -> set[int]:
    if names is None:
        return set()
    names = list(names)
    if names == ["all"]:
        return set(range(len(codes)))
    by_name = {n.casefold(): i for i, n in enumerate(codes)}
    chosen = set()
    for name in names:
        if name.strip().casefold() not in by_name:
            raise DatasetError(source, f"{what}: no class named {name!r} (classes: {', '.join(codes)})")
        chosen.add(by_name[name.strip().casefold()])
    return chosen


def image_annotations(mask: np.ndarray, image_id: int, first_id: int, void: int | None, instances: set[int],
                      crowd: set[int]) -> list[dict]:
    """The annotations of one image: per class present, one semantic mask or one per object."""
    from labeltool.editing.instances import instance_masks

    found = []
    for cls in np.flatnonzero(np.bincount(mask.ravel(), minlength=1)):
        cls = int(cls)
        if cls == void:
            continue
        if cls in instances:
            parts = [(region, 0) for _, region in instance_masks(mask, cls)]
        else:
            parts = [(mask == cls, 1 if cls in crowd else 0)]
        for region, iscrowd in parts:
            found.append({"id": first_id + len(found), "image_id": image_id, "category_id": cls + 1,
                          "segmentation": encode_rle(region), "area": int(region.sum()), "bbox": _bbox(region),
                          "iscrowd": iscrowd})
    return found


def export_coco(src: str | Path, dst: str | Path, only_corrected: bool = False, force: bool = False,
                log: Callable[[str], None] | None = None, instances: Iterable[str] | None = None,
                crowd: Iterable[str] | None = None) -> dict[str, int]:
    data = load_source(src)
    codes_path = data.root / "codes.txt"
    thing = _class_set(instances, data.codes, "--instances", codes_path)
    crowded = _class_set(crowd, data.codes, "--crowd", codes_path)
    if thing & crowded:
        raise DatasetError(codes_path, f"{data.codes[min(thing & crowded)]} is in both --instances and --crowd; "
                                       "instances are never crowds")
    names, skipped = selected_names(data, only_corrected, labelled_only=True)
    if not names:
        raise DatasetError(data.root, "nothing to export: no labelled images" +
                           (" marked corrected" if only_corrected else ""))
    void = find_void(data.codes)
    categories = [{"id": i + 1, "name": name, "supercategory": "void" if i == void else "",
                   "isthing": int(i in thing), "color": [int(c) for c in data.palette[i]]}
                  for i, name in enumerate(data.codes)]
    documents: dict[str, dict] = {}
    counts = {"train": 0, "valid": 0, "test": 0, "skipped": skipped, "annotations": 0}
    with staged(dst, force=force, src=data.root) as tmp:
        for number, name in enumerate(names, start=1):
            (width, height), mask = read_checked_mask(data, name)
            subset = data.subset_of(name)
            split = SPLIT_NAMES[subset]
            doc = documents.setdefault(split, {
                "info": {"description": f"{data.root.name} (labeltool export)", "version": "1.0"},
                "licenses": [], "images": [], "annotations": [], "categories": categories})
            image = data.images[name]
            file_name = f"{name}{image.suffix.lower()}"
            copy_file(image, tmp / "images" / split / file_name)
            image_id = len(doc["images"]) + 1
            doc["images"].append({"id": image_id, "file_name": file_name, "width": width, "height": height})
            doc["annotations"] += image_annotations(mask, image_id, len(doc["annotations"]) + 1, void, thing,
                                                    crowded)
            counts[subset] += 1
            if log is not None and number % 100 == 0:
                log(f"  {number}/{len(names)} images")
        for split, doc in documents.items():
            counts["annotations"] += len(doc["annotations"])
            atomic_write_text(tmp / "annotations" / f"instances_{split}.json",
                              json.dumps(doc, separators=(",", ":")))
    return counts

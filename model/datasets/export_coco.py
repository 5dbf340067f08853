"""Export to COCO (what pycocotools, detectron2, mmdetection and CVAT read):

    DST/annotations/instances_<split>.json    split = train / val / test (from valid.txt and test.txt)
    DST/images/<split>/NAME.png|jpg           the images, copied byte for byte

Every class is a category (id = class index + 1, with its colour and ``isthing``); masks are RLE
(``pycocotools.mask.encode``). A class is exported either **semantically**, one annotation holding all
its pixels in an image (the default; COCO-stuff style), or as **instances**, one annotation per object
(4-connected region, the rule of :mod:`labeltool.editing.instances`). Semantic annotations have
``iscrowd`` 0 unless the class is named in ``crowd`` (then 1, "a group of objects" that detection
training ignores); instances always have 0. Void pixels get no annotation; the Void class is kept as a
category so a re-import restores the class list exactly. Images without a mask are left out, and so
are unchecked masks unless ``include_proposals``; then their image entry has ``"unchecked": true`` and
their annotations ``"attributes": {"unchecked": true}`` (model.datasets.unchecked).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_text
from model.errors import DatasetError
from model.project.codes import find_void

from .export_fastai import load_source, read_checked_mask, selected_names
from .staging import copy_file, staged

SPLIT_NAMES = {"train": "train", "valid": "val", "test": "test"}


def encode_rle(region: np.ndarray) -> dict:
    """A boolean HxW mask as COCO compressed RLE (``counts`` as text, JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(region, dtype=np.uint8))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def rles_by_value(values: np.ndarray) -> dict[int, tuple[dict, int, list[float]]]:
    """COCO RLE of every value of an integer image at once: {value: (compressed RLE, area, bbox)}.

    COCO's RLE counts alternate runs of 0 and 1 over the image flattened column by column; the runs of
    every value come from one column-major pass, and pycocotools compresses the counts. (Encoding one
    full-size mask per object with ``pycocotools.mask.encode`` took over a minute on a 12 MP image with
    a few hundred objects; this takes about a second.)"""
    from pycocotools import mask as mask_utils

    height, width = values.shape
    flat = np.asarray(values).ravel(order="F")
    cuts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [flat.size]))
    run_values = flat[starts]
    order = np.argsort(run_values, kind="stable")
    bounds = np.flatnonzero(np.diff(run_values[order])) + 1
    found = {}
    for group in np.split(order, bounds):
        s, e = starts[group], ends[group]
        counts = np.empty(2 * len(group) + 1, dtype=np.int64)
        counts[0:-1:2] = s - np.concatenate(([0], e[:-1]))  # zeros before each run
        counts[1::2] = e - s
        counts[-1] = flat.size - e[-1]
        rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts.tolist()}, height, width)
        last = e - 1
        if (last // height != s // height).any():  # a run wraps into the next column: full height
            y0, y1 = 0, height - 1
        else:
            y0, y1 = int((s % height).min()), int((last % height).max())
        x0, x1 = int(s[0] // height), int(last[-1] // height)
        bbox = [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)]
        found[int(run_values[group[0]])] = ({"size": [height, width], "counts": rle["counts"].decode("ascii")},
                                            int(counts[1::2].sum()), bbox)
    return found


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
    """The annotations of one image, by class: one semantic mask, or one per object (the connected regions
    of :func:`labeltool.editing.instances.label_components`, in reading order of their first pixel)."""
    semantic = rles_by_value(mask)
    objects: dict[int, list] = {}
    if instances & set(semantic):
        from model.images.components import label_components  # scikit-image and scipy: only for instances

        labels, count = label_components(mask)  # numbered in reading order of their first pixel
        class_of = np.zeros(count + 1, dtype=np.int64)
        class_of[labels.ravel()] = mask.ravel()
        by_label = rles_by_value(labels)
        for number in range(1, count + 1):
            if int(class_of[number]) in instances:
                objects.setdefault(int(class_of[number]), []).append(by_label[number])
    found = []
    for cls in sorted(semantic):
        if cls == void:
            continue
        if cls in instances:
            parts = [(part, 0) for part in objects[cls]]
        else:
            parts = [(semantic[cls], 1 if cls in crowd else 0)]
        for (rle, area, bbox), iscrowd in parts:
            found.append({"id": first_id + len(found), "image_id": image_id, "category_id": cls + 1,
                          "segmentation": rle, "area": area, "bbox": bbox, "iscrowd": iscrowd})
    return found


def export_coco(src: str | Path, dst: str | Path, include_proposals: bool = False, force: bool = False,
                log: Callable[[str], None] | None = None, instances: Iterable[str] | None = None,
                crowd: Iterable[str] | None = None) -> dict:
    data = load_source(src)
    codes_path = data.root / "codes.txt"
    thing = _class_set(instances, data.codes, "--instances", codes_path)
    crowded = _class_set(crowd, data.codes, "--crowd", codes_path)
    if thing & crowded:
        raise DatasetError(codes_path, f"{data.codes[min(thing & crowded)]} is in both --instances and --crowd; "
                                       "instances are never crowds")
    chosen = selected_names(data, include_proposals, labelled_only=True)
    names, unchecked = chosen.names, set(chosen.unchecked)
    void = find_void(data.codes)
    categories = [{"id": i + 1, "name": name, "supercategory": "void" if i == void else "",
                   "isthing": int(i in thing), "color": [int(c) for c in data.palette[i]]}
                  for i, name in enumerate(data.codes)]
    documents: dict[str, dict] = {}
    counts = {"train": 0, "valid": 0, "test": 0, "annotations": 0, **chosen.counts()}
    with staged(dst, force=force, src=data.root) as tmp:
        for number, name in enumerate(names, start=1):
            (width, height), mask = read_checked_mask(data, name)
            subset = data.subset_of(name)
            split = SPLIT_NAMES[subset]
            doc = documents.setdefault(split, {
                "info": {"description": f"{data.root.name} (labeltool export)", "version": "1.0",
                         "contributor": "labeltool"},
                "licenses": [], "images": [], "annotations": [], "categories": categories})
            image = data.images[name]
            file_name = f"{name}{image.suffix.lower()}"
            copy_file(image, tmp / "images" / split / file_name)
            image_id = len(doc["images"]) + 1
            entry = {"id": image_id, "file_name": file_name, "width": width, "height": height}
            found = image_annotations(mask, image_id, len(doc["annotations"]) + 1, void, thing, crowded)
            if name in unchecked:  # nobody checked this mask: say so on the image and on each annotation
                entry["unchecked"] = True
                for ann in found:
                    ann["attributes"] = {"unchecked": True}
            doc["images"].append(entry)
            doc["annotations"] += found
            counts[subset] += 1
            if log is not None and number % 100 == 0:
                log(f"  {number}/{len(names)} images")
        for split, doc in documents.items():
            counts["annotations"] += len(doc["annotations"])
            atomic_write_text(tmp / "annotations" / f"instances_{split}.json",
                              json.dumps(doc, separators=(",", ":")))
    return counts

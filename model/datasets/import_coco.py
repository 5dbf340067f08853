"""COCO as a source: ``annotations/*.json`` (instances, stuff or a labeltool export) with the images in
``images/<part>/``, ``<part>/`` or ``images/`` (``<part>`` is the file name after its first ``_``:
``instances_train2017.json`` -> ``train2017``; CVAT's ``instances_default.json`` -> ``default``).

Classes are the categories in id order, plus a Void class (unless one is named so, or the files are a
labeltool export of classes without Void) for pixels no annotation covers. Segmentations may be RLE (compressed or not) or polygons; each annotation paints its
category over the mask in file order (where annotations overlap the later one wins, and the import
warns). Images with no annotation are imported without a mask. The split comes from the file name:
``val`` -> valid, ``test`` -> test, anything else -> train. An image entry with ``"unchecked": true`` (or
annotations with ``attributes.unchecked``: a labeltool export with --include-proposals) comes in as a
proposal, never as a correction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.errors import CodesError, DatasetError, MaskError
from model.project.codes import find_void
from model.project.layout import relative_entry
from model.project.palette import default_palette

from .import_colour import load_class_file
from .native import Item
from .plan import ImportPlan
from .staging import check_name
from .unchecked import mark_proposals


def find_coco_files(src: Path) -> list[Path]:
    folder = src / "annotations"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file() and not p.name.startswith("."))


def _subset(path: Path) -> str:
    stem = path.stem.casefold()
    if "val" in stem:
        return "valid"
    if "test" in stem:
        return "test"
    return "train"


def _load(path: Path) -> dict | None:
    """The parsed file, or None when it is not an annotation file with categories (captions, keypoints...)."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(path, f"cannot read as JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DatasetError(path, "not a COCO annotation file (no \"images\" list)")
    if not isinstance(doc.get("categories"), list) or not doc["categories"]:
        return None
    return doc


def decode_segmentation(segmentation, height: int, width: int, source: Path, ann_id) -> np.ndarray:
    """A COCO segmentation (RLE or polygons) as a boolean HxW mask."""
    from pycocotools import mask as mask_utils

    try:
        if isinstance(segmentation, list):  # polygons
            rles = mask_utils.frPyObjects([p for p in segmentation if len(p) >= 6], height, width)
            if not rles:
                return np.zeros((height, width), dtype=bool)
            rle = mask_utils.merge(rles)
        elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
            rle = mask_utils.frPyObjects(segmentation, *segmentation["size"])
        elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), str):
            rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode("ascii")}
        else:
            raise ValueError("neither polygons nor RLE")
        if [int(v) for v in rle["size"]] != [height, width]:
            raise ValueError(f"RLE size {list(rle['size'])} is not the image's {[height, width]}")
        return mask_utils.decode(rle).astype(bool)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise MaskError(source, f"annotation {ann_id}: cannot decode its segmentation ({exc})") from exc


def _categories(files: list[tuple[Path, dict]], class_file: Path | None) -> tuple[list[str], np.ndarray, dict]:
    """(class names, colours, category id -> class index)."""
    seen: dict[int, tuple[str, Path]] = {}
    colours: dict[int, tuple[int, int, int]] = {}
    for path, doc in files:
        for category in doc["categories"]:
            try:
                cid, name = int(category["id"]), str(category["name"]).strip()
            except (KeyError, TypeError, ValueError) as exc:
                raise CodesError(path, f"category {category!r} has no id or name") from exc
            if cid in seen and seen[cid][0] != name:
                raise CodesError(path, f"category {cid} is {name!r} here but {seen[cid][0]!r} in {seen[cid][1].name}")
            seen[cid] = (name, path)
            colour = category.get("color")
            if (isinstance(colour, list) and len(colour) == 3 and all(isinstance(c, int) and 0 <= c <= 255
                                                                     for c in colour)):
                colours[cid] = tuple(colour)
    ids = sorted(seen)
    names = [seen[cid][0] for cid in ids]
    if class_file is not None:
        wanted, table = load_class_file(class_file)
        by_name = {n.casefold(): i for i, n in enumerate(wanted)}
        missing = [n for n in names if n.casefold() not in by_name]
        if missing:
            raise CodesError(class_file, f"has no class {missing[0]!r} (a category of the COCO files)")
        mapping = {cid: by_name[seen[cid][0].casefold()] for cid in ids}
        return wanted, table if table is not None else default_palette(wanted), mapping
    from_labeltool = all((doc.get("info") or {}).get("contributor") == "labeltool" for _, doc in files)
    if find_void(names) is None and not from_labeltool:  # a labeltool export without Void covers every pixel
        names.append("Void")
    palette = default_palette(names)
    for index, cid in enumerate(ids):
        if cid in colours:
            palette[index] = colours[cid]
    return names, palette, {cid: index for index, cid in enumerate(ids)}


def _image_path(src: Path, json_path: Path, file_name: str) -> Path | None:
    part = json_path.stem.split("_", 1)[1] if "_" in json_path.stem else json_path.stem
    rel = relative_entry(file_name, json_path, 0)
    for folder in (src / "images" / part, src / part, src / "images", src):
        if (folder / rel).is_file():
            return folder / rel
    return None


def plan_coco(src: Path, class_file: Path | None) -> ImportPlan:
    paths = find_coco_files(src)
    if not paths:
        raise DatasetError(src, "no COCO annotation files (annotations/*.json)")
    files = []
    warnings = []
    for path in paths:
        doc = _load(path)
        if doc is None:
            warnings.append(f"{path}: no categories (captions or keypoints?); left out")
        else:
            files.append((path, doc))
    if not files:
        raise DatasetError(src / "annotations", "no COCO file with categories and images")
    names, palette, class_of = _categories(files, class_file)
    void = find_void(names)
    plan = ImportPlan("coco", names, palette, [], None, warnings)
    annotations: dict[str, tuple[Path, dict, list[dict]]] = {}
    unchecked: set[str] = set()
    for path, doc in files:
        by_image: dict = {}
        for ann in doc.get("annotations") or []:
            by_image.setdefault(ann.get("image_id"), []).append(ann)
        for entry in doc["images"]:
            try:
                image_id, file_name = entry["id"], str(entry["file_name"])
                int(entry["width"]), int(entry["height"])
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(path, f"image entry {entry!r} lacks id, file_name, width or height") from exc
            image = _image_path(src, path, file_name)
            if image is None:
                raise DatasetError(path, f"image {file_name!r} (id {image_id}) is not in images/ beside the file")
            name = check_name(image.stem, path)
            if name in annotations:
                raise DatasetError(path, f"image name {name} is also in {annotations[name][0].name}")
            anns = by_image.pop(image_id, [])
            annotations[name] = (path, entry, anns)
            plan.items.append(Item(name, image, path if anns else None, _subset(path)))
            if anns and _unchecked(entry, anns):  # a labeltool export with --include-proposals
                unchecked.add(name)
        if by_image:
            orphan = next(iter(by_image.values()))[0]
            raise DatasetError(path, f"annotation {orphan.get('id')} refers to image id {orphan.get('image_id')}, "
                                     "which is not in \"images\"")

    def read(item: Item, size: tuple[int, int]) -> np.ndarray:
        path, entry, anns = annotations[item.name]
        width, height = int(entry["width"]), int(entry["height"])
        if (width, height) != tuple(size):
            raise MaskError(path, f"image {entry['file_name']} is {size[0]}x{size[1]} but the file says "
                                  f"{width}x{height}")
        mask = np.full((height, width), 0 if void is None else void, dtype=np.uint8)
        painted = np.zeros((height, width), dtype=bool)
        overlap = 0
        for ann in anns:
            if ann.get("category_id") not in class_of:
                raise MaskError(path, f"annotation {ann.get('id')}: category {ann.get('category_id')} is not in "
                                      "\"categories\"")
            region = decode_segmentation(ann.get("segmentation"), height, width, path, ann.get("id"))
            cls = class_of[ann["category_id"]]
            overlap += int((region & painted & (mask != cls)).sum())
            mask[region] = cls
            painted |= region
        if void is None and not painted.all():
            ys, xs = np.nonzero(~painted)
            raise CodesError(path, f"{entry['file_name']}: {len(ys)} pixels (first at x={xs[0]}, y={ys[0]}) have no "
                                   "annotation and the class list has no Void class for them")
        if overlap:
            plan.warnings.append(f"{path}: {entry['file_name']}: {overlap} pixels are covered by annotations of "
                                 "different classes; the later annotation wins")
        return mask

    plan.mask_reader = read
    mark_proposals(plan.items, unchecked, src)
    return plan


def _unchecked(entry: dict, anns: list[dict]) -> bool:
    """The image entry, or any of its annotations, says nobody checked the mask."""
    return entry.get("unchecked") is True or any(
        isinstance(ann.get("attributes"), dict) and ann["attributes"].get("unchecked") is True for ann in anns)

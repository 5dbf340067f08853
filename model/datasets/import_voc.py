"""Pascal VOC segmentation as a source: ``VOCdevkit/VOC20xx/`` (or that folder itself) with ``JPEGImages/``,
``SegmentationClass/`` (indexed PNGs; 255 = void), ``ImageSets/Segmentation/{train,val,test}.txt``.

Classes, first found: ``--codes``; ``codes.txt`` beside ``labelmap.txt`` (a labeltool export: exact class
order and Void); ``labelmap.txt`` ("name:r,g,b:parts:actions", line = pixel value; CVAT/datumaro) plus a
Void class for 255; otherwise VOC's 21 classes plus Void. Without list files every mask is training data.
Masks named in ``unchecked.list`` beside ``labelmap.txt`` (a labeltool export with --include-proposals)
come in as proposals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from model.errors import CodesError, DatasetError, MaskError
from model.images.imageio import IMAGE_SUFFIXES, read_mask
from model.project.codes import find_void, read_codes
from model.project.layout import read_list
from model.project.palette import default_palette

from .export_voc import SET_FILES, VOC_VOID_COLOUR, VOID_VALUE
from .import_colour import load_class_file
from .native import Item
from .plan import ImportPlan
from .staging import check_name
from .unchecked import mark_proposals, read_unchecked

VOC_CLASSES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor"]


def voc_colour_map(count: int = 256) -> np.ndarray:
    """VOC's own colour map (the bit-interleaving one from the devkit's VOClabelcolormap.m)."""
    colours = np.zeros((count, 3), dtype=np.uint8)
    for index in range(count):
        c, r, g, b = index, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        colours[index] = (r, g, b)
    return colours


def find_voc_root(src: Path) -> Path | None:
    """The folder holding ``SegmentationClass/``: SRC itself, SRC/VOC20xx or SRC/VOCdevkit/VOC20xx."""
    def is_root(path: Path) -> bool:
        return (path / "SegmentationClass").is_dir() and (path / "JPEGImages").is_dir()

    if is_root(src):
        return src
    for parent in (src / "VOCdevkit", src):
        if parent.is_dir():
            years = sorted((p for p in parent.iterdir() if p.is_dir() and p.name.upper().startswith("VOC")),
                           key=lambda p: p.name, reverse=True)
            for candidate in years:
                if is_root(candidate):
                    return candidate
    return None


def parse_labelmap(path: Path) -> tuple[list[str], np.ndarray]:
    """``labelmap.txt``: "name:r,g,b:parts:actions" per line, in pixel-value order."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CodesError(path, f"cannot read ({exc})") from exc
    names, colours = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(":")
        name = fields[0].strip()
        try:
            colour = tuple(int(v) for v in fields[1].split(",")) if len(fields) > 1 and fields[1].strip() else None
        except ValueError as exc:
            raise CodesError(path, f"line {number}: colour {fields[1]!r} is not 'r,g,b'") from exc
        if colour is not None and (len(colour) != 3 or not all(0 <= c <= 255 for c in colour)):
            raise CodesError(path, f"line {number}: colour {fields[1]!r} is not three values 0..255")
        if not name:
            raise CodesError(path, f"line {number}: no class name")
        names.append(name)
        colours.append(colour)
    if not names:
        raise CodesError(path, "no classes")
    defaults = voc_colour_map(len(names))
    return names, np.array([c if c is not None else defaults[i] for i, c in enumerate(colours)], dtype=np.uint8)


def _void_colour(root: Path) -> tuple[int, int, int]:
    """The colour 255 has in the first indexed mask (a labeltool export writes Void's colour there)."""
    for path in sorted((root / "SegmentationClass").glob("*.png"))[:1]:
        try:
            with Image.open(path) as image:
                if image.mode == "P":
                    flat = image.getpalette() or []
                    if len(flat) >= 3 * 256:
                        return tuple(flat[3 * VOID_VALUE: 3 * VOID_VALUE + 3])
        except (OSError, SyntaxError):
            break
    return VOC_VOID_COLOUR


def voc_classes(root: Path, class_file: Path | None) -> tuple[list[str], np.ndarray, int | None]:
    """(class names in labeltool order, colours, void index)."""
    if class_file is not None:
        names, colours = load_class_file(class_file)
        return names, colours if colours is not None else default_palette(names), find_void(names)
    labelmap = root / "labelmap.txt"
    if labelmap.is_file():
        voc_names, voc_colours = parse_labelmap(labelmap)
    else:
        voc_names, voc_colours = list(VOC_CLASSES), voc_colour_map(len(VOC_CLASSES))
    by_value = dict(zip(voc_names, voc_colours, strict=True))
    void_colour = _void_colour(root)
    codes_path = root / "codes.txt"
    if codes_path.is_file() and labelmap.is_file():
        names = read_codes(codes_path)
        void = find_void(names)
        others = [n for i, n in enumerate(names) if i != void]
        if others != voc_names:
            raise CodesError(codes_path, f"does not match {labelmap.name} (its classes besides Void, in order, "
                                         "must be the labelmap's); remove one of them or pass --codes")
        colours = np.array([void_colour if i == void else by_value[n] for i, n in enumerate(names)], dtype=np.uint8)
        return names, colours, void
    void_name = "Void" if "void" not in {n.casefold() for n in voc_names} else "VOC void"
    names = voc_names + [void_name]
    return names, np.concatenate([voc_colours, np.array([void_colour], dtype=np.uint8)]), len(voc_names)


class VocMaskReader:
    """Decodes a SegmentationClass PNG (VOC pixel values; 255 = void) into class indices."""

    def __init__(self, names: list[str], colours: np.ndarray, void: int | None):
        others = [i for i in range(len(names)) if i != void]
        if len(others) > VOID_VALUE:
            raise CodesError(None, f"{len(others)} classes besides Void; VOC masks hold at most 255")
        self.lookup = np.full(256, -1, dtype=np.int16)
        self.lookup[: len(others)] = others
        if void is not None:
            self.lookup[VOID_VALUE] = void
        self.value_colours = np.zeros((256, 3), dtype=np.uint8)
        self.value_colours[: len(others)] = colours[others]
        if void is not None:
            self.value_colours[VOID_VALUE] = colours[void]
        self.known = np.flatnonzero(self.lookup >= 0)

    def __call__(self, item: Item, size: tuple[int, int]) -> np.ndarray:
        path = item.mask
        try:
            with Image.open(path) as probe:
                colour = probe.mode in ("RGB", "RGBA")
        except (OSError, SyntaxError):
            colour = False  # read_mask below names the problem
        if colour:
            table = self.value_colours[self.known]
            values = self.known[read_mask(path, colour_table=table, expected_size=size)].astype(np.uint8)
        else:
            values = read_mask(path, expected_size=size)
        mask = self.lookup[values]
        bad = mask < 0
        if bad.any():
            ys, xs = np.nonzero(bad)
            raise MaskError(path, f"pixel value {int(values[ys[0], xs[0]])} is not a class (values 0.."
                                  f"{int((self.lookup[:VOID_VALUE] >= 0).sum()) - 1} and 255 for void); "
                                  f"{int(bad.sum())} pixels, first at x={xs[0]}, y={ys[0]}")
        return mask.astype(np.uint8)


def _image_for(root: Path, name: str) -> Path | None:
    for suffix in (".jpg", *IMAGE_SUFFIXES):
        for candidate in (root / "JPEGImages" / f"{name}{suffix}", root / "JPEGImages" / f"{name}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def plan_voc(src: Path, class_file: Path | None) -> ImportPlan:
    root = find_voc_root(src)
    if root is None:
        raise DatasetError(src, "no VOC layout (JPEGImages/ and SegmentationClass/, or VOCdevkit/VOC20xx/ with them)")
    names, colours, void = voc_classes(root, class_file)
    plan = ImportPlan("voc", names, colours, [], VocMaskReader(names, colours, void))
    sets_dir = root / "ImageSets" / "Segmentation"
    lists = [(subset, sets_dir / file) for subset, file in SET_FILES.items() if (sets_dir / file).is_file()]
    if not lists and (sets_dir / "trainval.txt").is_file():
        lists = [("train", sets_dir / "trainval.txt")]
    masks_dir = root / "SegmentationClass"
    if not lists:
        for mask in sorted(masks_dir.glob("*.png")):
            if mask.name.startswith("."):
                continue
            image = _image_for(root, mask.stem)
            if image is None:
                raise DatasetError(mask, f"no image JPEGImages/{mask.stem}.jpg for this mask")
            plan.items.append(Item(check_name(mask.stem, mask), image, mask, "train"))
        return _mark_unchecked(plan, root, src)
    seen: dict[str, Path] = {}
    for subset, list_path in lists:
        for line, fields in read_list(list_path):
            name = check_name(fields[0], list_path)
            if name in seen:
                raise DatasetError(list_path, f"line {line}: {name} is also listed in {seen[name].name}")
            seen[name] = list_path
            image = _image_for(root, name)
            if image is None:
                raise DatasetError(list_path, f"line {line}: no image JPEGImages/{name}.jpg")
            mask = masks_dir / f"{name}.png"
            plan.items.append(Item(name, image, mask if mask.is_file() else None, subset))
    return _mark_unchecked(plan, root, src)


def _mark_unchecked(plan: ImportPlan, root: Path, src: Path) -> ImportPlan:
    """A labeltool export with --include-proposals: masks in its unchecked.list come in as proposals."""
    mark_proposals(plan.items, read_unchecked(root, [item.name for item in plan.items]), src)
    return plan

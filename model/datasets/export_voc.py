"""Export to Pascal VOC segmentation, as torchvision's ``VOCSegmentation(root=DST, year="2012")`` reads it:

    DST/VOCdevkit/VOC2012/JPEGImages/NAME.jpg                 the images
    DST/VOCdevkit/VOC2012/SegmentationClass/NAME.png          indexed (mode P) PNG with the class colours
    DST/VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt    image names (no suffix): train, val, trainval
                                                              (and test when the dataset has test images)
    DST/VOCdevkit/VOC2012/labelmap.txt                        "name:r,g,b::" per pixel value (CVAT/datumaro)
    DST/VOCdevkit/VOC2012/codes.txt                           labeltool's own class order (for a re-import)
    DST/VOCdevkit/VOC2012/unchecked.list                      with --include-proposals: unchecked masks

Pixel values: the classes other than Void are numbered 0, 1, 2, ... in codes.txt order; Void is VOC's 255
("ignore" in every VOC trainer). Masks are exact. Images: JPEGs are copied byte for byte; other 8-bit
images are saved as JPEG (quality 95, no chroma subsampling) because VOC readers open ``NAME.jpg``, unless
``lossless`` keeps them in their own format (datumaro and CVAT read that, torchvision's VOCSegmentation
does not). Images without a mask are left out (VOC has a mask for every listed image), and so are
unchecked masks unless ``include_proposals`` (model.datasets.unchecked).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from model.atomic import atomic_write, atomic_write_text
from model.errors import DatasetError
from model.images.imageio import read_raw, write_mask
from model.project.codes import find_void, write_codes

from .export_fastai import load_source, read_checked_mask, selected_names
from .staging import copy_file, staged
from .unchecked import write_unchecked

VOC_DIR = Path("VOCdevkit") / "VOC2012"
VOID_VALUE = 255
VOC_VOID_COLOUR = (224, 224, 192)  # the colour VOC's own masks give 255
LABELMAP_HEADER = "# label:color_rgb:parts:actions\n"
SET_FILES = {"train": "train.txt", "valid": "val.txt", "test": "test.txt"}


def voc_values(codes: list[str], source: Path) -> tuple[np.ndarray, int | None]:
    """(lookup class index -> VOC pixel value, void index): non-Void classes 0.. in order, Void 255."""
    void = find_void(codes)
    others = [i for i in range(len(codes)) if i != void]
    if len(others) > VOID_VALUE:
        raise DatasetError(source, f"{len(others)} classes besides Void; VOC masks hold at most 255 "
                                   "(value 255 is Void)")
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[others] = np.arange(len(others), dtype=np.uint8)
    if void is not None:
        lookup[void] = VOID_VALUE
    return lookup, void


def voc_palette(codes: list[str], palette: np.ndarray, lookup: np.ndarray, void: int | None) -> np.ndarray:
    """The 256-entry PNG palette: entry v is the colour of the class written as v."""
    table = np.zeros((256, 3), dtype=np.uint8)
    for index in range(len(codes)):
        table[lookup[index]] = palette[index]
    if void is None:
        table[VOID_VALUE] = VOC_VOID_COLOUR
    return table


def labelmap_text(codes: list[str], palette: np.ndarray, void: int | None, source: Path) -> str:
    lines = [LABELMAP_HEADER]
    for index, name in enumerate(codes):
        if index == void:
            continue
        if ":" in name:
            raise DatasetError(source, f"class {name!r} has a ':'; VOC's labelmap.txt separates fields with ':'")
        r, g, b = (int(c) for c in palette[index])
        lines.append(f"{name}:{r},{g},{b}::\n")
    return "".join(lines)


def _write_image(image: Path, target_dir: Path, name: str, lossless: bool) -> tuple[str, bool]:
    """Copy or convert one image into JPEGImages/; (file name, was it converted)."""
    suffix = image.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        copy_file(image, target_dir / f"{name}.jpg")
        return f"{name}.jpg", False
    if not lossless:
        raw = read_raw(image)
        if raw.dtype == np.uint8 and raw.shape[2] in (1, 3):
            picture = Image.fromarray(raw[:, :, 0] if raw.shape[2] == 1 else raw)
            atomic_write(target_dir / f"{name}.jpg",
                         lambda tmp: picture.save(tmp, format="JPEG", quality=95, subsampling=0))
            return f"{name}.jpg", True
    copy_file(image, target_dir / f"{name}{suffix}")
    return f"{name}{suffix}", False


def export_voc(src: str | Path, dst: str | Path, include_proposals: bool = False, force: bool = False,
               log: Callable[[str], None] | None = None, lossless: bool = False) -> dict:
    data = load_source(src)
    chosen = selected_names(data, include_proposals, labelled_only=True)
    names = chosen.names
    codes_path = data.root / "codes.txt"
    lookup, void = voc_values(data.codes, codes_path)
    table = voc_palette(data.codes, data.palette, lookup, void)
    labelmap = labelmap_text(data.codes, data.palette, void, codes_path)
    counts = {"train": 0, "valid": 0, "test": 0, "converted": 0, "kept_format": 0, **chosen.counts()}
    sets: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    with staged(dst, force=force, src=data.root) as tmp:
        root = tmp / VOC_DIR
        for number, name in enumerate(names, start=1):
            _, mask = read_checked_mask(data, name)
            file_name, converted = _write_image(data.images[name], root / "JPEGImages", name, lossless)
            counts["converted"] += converted
            counts["kept_format"] += not file_name.endswith(".jpg")
            write_mask(root / "SegmentationClass" / f"{name}.png", lookup[mask], table)
            subset = data.subset_of(name)
            sets[subset].append(name)
            counts[subset] += 1
            if log is not None and number % 100 == 0:
                log(f"  {number}/{len(names)} images")
        folder = root / "ImageSets" / "Segmentation"
        for subset in ("train", "valid"):
            atomic_write_text(folder / SET_FILES[subset], "".join(f"{n}\n" for n in sets[subset]))
        atomic_write_text(folder / "trainval.txt", "".join(f"{n}\n" for n in sets["train"] + sets["valid"]))
        if sets["test"]:
            atomic_write_text(folder / SET_FILES["test"], "".join(f"{n}\n" for n in sets["test"]))
        atomic_write_text(root / "labelmap.txt", labelmap)
        write_codes(root / "codes.txt", data.codes)
        write_unchecked(root, chosen.unchecked)
    return counts

"""Telling dataset layouts apart, and saying why."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from model.errors import DatasetError

from .import_coco import find_coco_files
from .import_segnet import subset_folders
from .import_voc import find_voc_root

FORMATS = ("fastai", "segnet", "cvat-camvid", "colour-table", "voc", "coco")


def detect_format(src: str | Path) -> tuple[str, str]:
    """(format, reason) for the folder ``src``; a DatasetError when no known layout fits."""
    src = Path(src)
    if not src.is_dir():
        raise DatasetError(src, "no such folder")
    has_colours = (src / "label_colors.txt").is_file() or (src / "class_dict.csv").is_file()
    if (src / "codes.txt").is_file() and ((src / "labels").is_dir() or (src / "images").is_dir()):
        return "fastai", "codes.txt with images/ and labels/"
    voc = find_voc_root(src)
    if voc is not None:
        where = "" if voc == src else f" in {voc.relative_to(src)}"
        return "voc", f"JPEGImages/ and SegmentationClass/{where}"
    coco = find_coco_files(src)
    if coco:
        return "coco", f"COCO annotation files ({', '.join(p.name for p in coco[:3])})"
    folders = subset_folders(src)
    if folders:
        annot = ", ".join(f"{name}annot/" for name in folders)
        if (src / "label_colors.txt").is_file():
            return "cvat-camvid", f"label_colors.txt with {annot}"
        mode = _first_mask_mode(src, folders)
        if mode in ("RGB", "RGBA"):
            return "cvat-camvid", f"colour ({mode}) masks in {annot} (CamVid colours; no label_colors.txt)"
        return "segnet", f"{annot} with single-channel masks"
    if has_colours:
        return "colour-table", "a colour table (label_colors.txt or class_dict.csv) with NAME_L.png masks"
    if (src / "codes.txt").is_file():
        return "fastai", "codes.txt beside a flat folder of images"
    raise DatasetError(src, "cannot tell the dataset layout (no codes.txt, no <subset>annot/ folders, no "
                            f"label_colors.txt or class_dict.csv); give --format, one of {', '.join(FORMATS)}")


def _first_mask_mode(src: Path, folders: list[str]) -> str | None:
    for folder in folders:
        for path in sorted((src / f"{folder}annot").iterdir()):
            if path.suffix.lower() == ".png" and not path.name.startswith("."):
                try:
                    with Image.open(path) as image:
                        return image.mode
                except (OSError, SyntaxError):
                    return None
    return None

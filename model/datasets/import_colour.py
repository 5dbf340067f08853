"""Colour-coded masks: CVAT "CamVid 1.0" (``label_colors.txt``, ``<subset>/``, ``<subset>annot/``,
``<subset>.txt``) and colour tables (``label_colors.txt`` / ``class_dict.csv``) with ``NAME_L.png`` masks
anywhere under the source folder (CamVid-32, Kaggle CamVid)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from model.errors import CodesError, DatasetError, MaskError
from model.images.imageio import IMAGE_SUFFIXES, read_image, read_mask, rgb_to_index
from model.project.codes import find_void, parse_codes, read_codes
from model.project.layout import read_list, relative_entry
from model.project.palette import default_palette

from .native import Item
from .plan import ImportPlan, subset_for
from .staging import check_name
from .unchecked import mark_proposals, read_unchecked

COLOUR_MASK_SUFFIX = "_L.png"
# datumaro's default CamVid label map (used when a CVAT CamVid export has no label_colors.txt).
CAMVID32_NAMES = [
    "Void", "Animal", "Archway", "Bicyclist", "Bridge", "Building", "Car", "CartLuggagePram", "Child",
    "Column_Pole", "Fence", "LaneMkgsDriv", "LaneMkgsNonDriv", "Misc_Text", "MotorcycleScooter", "OtherMoving",
    "ParkingBlock", "Pedestrian", "Road", "RoadShoulder", "Sidewalk", "SignSymbol", "Sky", "SUVPickupTruck",
    "TrafficCone", "TrafficLight", "Train", "Tree", "Truck_Bus", "Tunnel", "VegetationMisc", "Wall",
]


def _table(rows: list[tuple[int, str, tuple[int, int, int]]], path: Path) -> tuple[list[str], np.ndarray]:
    names: list[str] = []
    seen_colour: dict[tuple[int, int, int], int] = {}
    for line, name, colour in rows:
        if any(not 0 <= c <= 255 for c in colour):
            raise CodesError(path, f"line {line}: colour {colour} is outside 0..255")
        if colour in seen_colour:
            raise CodesError(path, f"line {line}: colour {colour} repeats line {seen_colour[colour]}; "
                                   "each class needs its own colour")
        seen_colour[colour] = line
        names.append(name)

    parse_codes("\n".join(names), path)  # empty/duplicate names, at most 256 classes
    if not names:
        raise CodesError(path, "no classes")
    return names, np.array([colour for _, _, colour in rows], dtype=np.uint8)


def parse_label_colors(path: Path) -> tuple[list[str], np.ndarray | None]:
    """``R G B Name`` per line (CamVid / CVAT); a file of bare names gives no colours."""
    rows, bare = [], []
    for line, fields in read_list(path):
        numbers = fields[:3]
        if len(fields) >= 4 and all(f.lstrip("-").isdigit() for f in numbers):
            rows.append((line, " ".join(fields[3:]), tuple(int(f) for f in numbers)))
        elif all(not f.lstrip("-").isdigit() for f in fields[:1]):
            bare.append((line, " ".join(fields)))
        else:
            raise CodesError(path, f"line {line}: expected 'R G B name', got {' '.join(fields)!r}")
    if rows and bare:
        raise CodesError(path, f"line {bare[0][0]}: {bare[0][1]!r} has no colour, other lines do")
    if bare:
        return [name for _, name in bare], None
    return _table(rows, path)


def parse_class_dict(path: Path) -> tuple[list[str], np.ndarray]:
    """``class_dict.csv``: a header ``name,r,g,b`` then one class per row."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CodesError(path, f"cannot read ({exc})") from exc
    rows = []
    for line, record in enumerate(csv.reader(text.splitlines()), start=1):
        if not record or not "".join(record).strip():
            continue
        if line == 1 and record[0].strip().casefold() == "name":
            continue
        if len(record) != 4:
            raise CodesError(path, f"line {line}: expected name,r,g,b, got {','.join(record)!r}")
        try:
            colour = tuple(int(v) for v in record[1:])
        except ValueError as exc:
            raise CodesError(path, f"line {line}: r,g,b must be whole numbers, got {','.join(record[1:])!r}") from exc
        rows.append((line, record[0].strip(), colour))
    return _table(rows, path)


def load_class_file(path: str | Path) -> tuple[list[str], np.ndarray | None]:
    """Class names (and colours, when the file has them) from codes.txt, label_colors.txt or class_dict.csv."""
    path = Path(path)
    if not path.is_file():
        raise CodesError(path, "no such file")
    if path.suffix.lower() == ".csv":
        return parse_class_dict(path)
    rows = read_list(path)
    if any(len(f) >= 4 and all(x.isdigit() for x in f[:3]) for _, f in rows):
        return parse_label_colors(path)
    return read_codes(path), None


class ColourMaskReader:
    """Decodes a colour-coded mask to class indices (single-channel masks already hold indices)."""

    def __init__(self, names: list[str], table: np.ndarray, unknown_as_void: bool, warnings: list[str]):
        self.names, self.table, self.warnings = names, table, warnings
        self.void = find_void(names) if unknown_as_void else None
        if unknown_as_void and self.void is None:
            raise CodesError(None, "--unknown-as-void needs a Void (or unlabelled) class in the class list")

    def __call__(self, item: Item, size: tuple[int, int]) -> np.ndarray:
        path = item.mask
        try:
            with Image.open(path) as probe:
                mode = probe.mode
        except (OSError, SyntaxError):
            mode = "?"  # read_image below names the problem
        if mode in ("L", "I", "I;16"):
            return read_mask(path, len(self.names), expected_size=size)
        rgb = read_image(path)
        if (rgb.shape[1], rgb.shape[0]) != tuple(size):
            raise MaskError(path, f"mask is {rgb.shape[1]}x{rgb.shape[0]} but its image is {size[0]}x{size[1]}")
        try:
            return rgb_to_index(rgb, self.table, path)
        except MaskError as exc:
            if self.void is None:
                hint = ("; pass --unknown-as-void to map such colours to Void" if find_void(self.names) is not None
                        else "; add the colour to the colour table")
                raise MaskError(path, str(exc)[len(str(path)) + 2:] + hint) from None
        mask = rgb_to_index(rgb, self.table, path, unknown=self.void)
        keys = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        table = self.table.astype(np.int64)
        unknown = ~np.isin(keys, (table[:, 0] << 16) | (table[:, 1] << 8) | table[:, 2])
        colours = {tuple(int(c) for c in rgb[y, x]) for y, x in np.argwhere(unknown)[:1000]}
        self.warnings.append(f"{path}: {int(unknown.sum())} pixels of colours not in the table "
                             f"({', '.join(map(str, sorted(colours)[:5]))}) mapped to {self.names[self.void]}")
        return mask


def _class_table(src: Path, class_file: Path | None, default_names: list[str] | None) -> tuple[list[str], np.ndarray]:
    for candidate in ([class_file] if class_file else [src / "label_colors.txt", src / "class_dict.csv"]):
        if candidate is not None and candidate.exists():
            names, table = load_class_file(candidate)
            if table is None:
                raise CodesError(candidate, "lists no colours; colour-coded masks need 'R G B name' lines")
            return names, table
    if default_names is None:
        raise DatasetError(src, "no label_colors.txt or class_dict.csv; give the colour table with --codes FILE")
    return default_names, default_palette(default_names)


def plan_cvat(src: Path, class_file: Path | None, unknown_as_void: bool) -> ImportPlan:
    names, table = _class_table(src, class_file, CAMVID32_NAMES)
    plan = ImportPlan("cvat-camvid", names, table, [], None)
    plan.mask_reader = ColourMaskReader(names, table, unknown_as_void, plan.warnings)
    lists = sorted(p for p in src.glob("*.txt") if p.name not in ("label_colors.txt", "codes.txt"))
    if lists:
        for list_path in lists:
            for line, fields in read_list(list_path):
                image = src / relative_entry(fields[0], list_path, line)
                mask = src / relative_entry(fields[1], list_path, line) if len(fields) > 1 else None
                for path in (image, mask):
                    if path is not None and not path.is_file():
                        raise DatasetError(list_path, f"line {line}: {path.relative_to(src)} does not exist")
                name = check_name(image.stem, list_path)
                plan.items.append(Item(name, image, mask, subset_for(list_path.stem)))
    else:
        for annot in sorted(p for p in src.iterdir() if p.is_dir() and p.name.endswith("annot")):
            folder = src / annot.name[: -len("annot")]
            for image in sorted(_image_files(folder)):
                mask = annot / f"{image.stem}.png"
                plan.items.append(Item(check_name(image.stem, image), image, mask if mask.is_file() else None,
                                       subset_for(folder.name)))
    # a labeltool export with --include-proposals: its unchecked masks come in as proposals
    mark_proposals(plan.items, read_unchecked(src, [item.name for item in plan.items]), src)
    return plan


def _image_files(folder: Path, exclude: Path | None = None):
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).parts
        if any(part.startswith(".") for part in rel) or (exclude is not None and path.is_relative_to(exclude)):
            continue
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield path


def plan_colour_table(src: Path, class_file: Path | None, unknown_as_void: bool, exclude: Path | None) -> ImportPlan:
    names, table = _class_table(src, class_file, None)
    plan = ImportPlan("colour-table", names, table, [], None)
    plan.mask_reader = ColourMaskReader(names, table, unknown_as_void, plan.warnings)
    masks: dict[str, Path] = {}
    images: dict[str, Path] = {}
    for path in sorted(_image_files(src, exclude)):
        if path.name.upper().endswith(COLOUR_MASK_SUFFIX.upper()):
            stem = path.name[: -len(COLOUR_MASK_SUFFIX)]
            if stem in masks:
                raise DatasetError(path, f"same mask name as {masks[stem]}")
            masks[stem] = path
        else:
            if path.stem in images:
                raise DatasetError(path, f"same image name as {images[path.stem]}; names must be unique")
            images[path.stem] = path
    for stem, mask in masks.items():
        if stem not in images:
            raise DatasetError(mask, f"colour mask with no image named {stem}.png or {stem}.jpg")
    for stem, image in images.items():
        plan.items.append(Item(check_name(stem, image), image, masks.get(stem), subset_for(image.parent.name)))
    if not masks:
        raise DatasetError(src, f"no colour masks (NAME{COLOUR_MASK_SUFFIX}) found")
    return plan


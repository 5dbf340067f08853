"""The native layout (fastai's CamVid): ``images/``, ``labels/NAME_P.png``, ``codes.txt``, ``valid.txt``
(and ``test.txt``). A read-only scanner (never writes, unlike opening a Project) and the writer every
importer uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_text
from model.codes import read_codes, write_codes
from model.errors import DatasetError, LabeltoolError, MaskError
from model.imageio import IMAGE_SUFFIXES, MASK_SUFFIX, read_image, write_mask
from model.palette import default_palette, validate_palette

from .staging import check_name, copy_file, read_list, relative_entry

SUBSETS = ("train", "valid", "test")
LIST_FILES = {"valid": "valid.txt", "test": "test.txt"}


@dataclass
class Item:
    """One image to import: where its image and mask come from, and its split."""

    name: str
    image: Path
    mask: Path | None = None
    subset: str = "train"


@dataclass
class NativeDataset:
    root: Path
    codes: list[str] | None
    images: dict[str, Path] = field(default_factory=dict)
    labels: dict[str, Path] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)  # subset -> image names (stems), in file order
    palette: np.ndarray | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    problems: list[LabeltoolError] = field(default_factory=list)
    stray_files: list[Path] = field(default_factory=list)

    def subset_of(self, name: str) -> str:
        for subset in ("test", "valid"):
            if name in self.lists.get(subset, ()):
                return subset
        return "train"

    def raise_first(self) -> None:
        if self.problems:
            raise self.problems[0]


def images_dir(root: Path) -> Path:
    """``images/`` when present, else the folder itself (a flat folder of images). A fastai export also
    keeps its test images in ``test/``."""
    return root / "images" if (root / "images").is_dir() else root


def scan_native(root: str | Path, codes: list[str] | None = None) -> NativeDataset:
    """Read the layout without writing anything; problems are collected, not raised."""
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise DatasetError(root, "no such folder")
    data = NativeDataset(root=root, codes=codes)
    if codes is None:
        try:
            data.codes = read_codes(root / "codes.txt")
        except LabeltoolError as exc:
            data.problems.append(exc)
    folder = images_dir(root)
    folders = [folder] + ([root / "test"] if folder != root and (root / "test").is_dir() else [])
    for path in [p for f in folders for p in sorted(f.iterdir())]:
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.name.endswith(MASK_SUFFIX) and folder == root:
            continue
        name = path.stem
        if name in data.images:
            data.problems.append(DatasetError(path, f"same image name as {data.images[name].name}; "
                                                    "names must be unique whatever the suffix"))
            continue
        data.images[name] = path
    labels = root / "labels"
    for path in sorted(labels.iterdir()) if labels.is_dir() else []:
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.name.endswith(MASK_SUFFIX):
            data.labels[path.name[: -len(MASK_SUFFIX)]] = path
        else:
            data.stray_files.append(path)
            data.problems.append(DatasetError(path, f"not a mask name: masks are labels/NAME{MASK_SUFFIX} "
                                                    "(always PNG, whatever the image format)"))
    for subset, filename in LIST_FILES.items():
        data.lists[subset] = _read_names(root / filename, data)
    _read_state(data)
    return data


def _read_names(path: Path, data: NativeDataset) -> list[str]:
    """Image names from valid.txt/test.txt: file names relative to images/ (fastai) or bare stems."""
    if not path.exists():
        return []
    names: list[str] = []
    try:
        rows = read_list(path)
    except LabeltoolError as exc:
        data.problems.append(exc)
        return names
    by_file = {p.name: n for n, p in data.images.items()}
    for line, fields in rows:
        try:
            entry = relative_entry(" ".join(fields), path, line)
        except LabeltoolError as exc:
            data.problems.append(exc)
            continue
        if entry.name in by_file:
            name = by_file[entry.name]
        elif entry.name in data.images:
            name = entry.name
        else:
            stem = entry.stem
            other = data.images.get(stem)
            hint = f" ({other.name} exists; fastai matches whole file names)" if other else ""
            data.problems.append(DatasetError(path, f"line {line}: {entry} is not an image in "
                                                    f"{images_dir(data.root).name}/{hint}"))
            continue
        if name not in names:
            names.append(name)
    return names


def _read_state(data: NativeDataset) -> None:
    """Palette and statuses from .labeltool/project.json, read-only (same rules as model.project)."""
    state = None
    path = data.root / ".labeltool" / "project.json"
    if path.exists():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = None
    if not isinstance(state, dict) or not isinstance(state.get("images"), dict):
        state = {"images": {}}
    if data.codes is not None:
        try:
            data.palette = validate_palette(state["palette"], len(data.codes)) if "palette" in state else None
        except (ValueError, TypeError):
            data.palette = None
        if data.palette is None:
            data.palette = default_palette(data.codes)
    for name in data.images:
        mask = data.labels.get(name)
        if mask is None:
            data.statuses[name] = "none"
            continue
        record = state["images"].get(name)
        if not isinstance(record, dict) or record.get("mtime_ns") != mask.stat().st_mtime_ns:
            data.statuses[name] = "corrected"
        else:
            data.statuses[name] = record.get("status", "corrected")


MaskReader = Callable[[Item, tuple[int, int]], np.ndarray]


def write_native(root: Path, codes: list[str], palette: np.ndarray, items: list[Item], read_item_mask: MaskReader,
                 log: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write items into the (empty, staged) folder ``root`` in the native layout. Images are copied byte
    for byte after a full decode (so a truncated file fails here, naming it); masks are decoded by
    ``read_item_mask(item, (width, height))`` and written as indexed PNGs with the palette."""
    seen: dict[str, Item] = {}
    for item in items:
        check_name(item.name, item.image)
        if item.subset not in SUBSETS:
            raise ValueError(f"unknown subset {item.subset!r}")
        if item.name in seen:
            raise DatasetError(item.image, f"same image name as {seen[item.name].image}; names must be unique")
        seen[item.name] = item
    write_codes(root / "codes.txt", codes)
    counts = {"train": 0, "valid": 0, "test": 0, "labelled": 0}
    lists: dict[str, list[str]] = {"valid": [], "test": []}
    for number, item in enumerate(items, start=1):
        suffix = item.image.suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            raise DatasetError(item.image, f"not a PNG or JPEG image (suffix {item.image.suffix!r})")
        height, width = read_image(item.image).shape[:2]
        target = root / "images" / f"{item.name}{suffix}"
        copy_file(item.image, target)
        if item.mask is not None:
            mask = read_item_mask(item, (width, height))
            if mask.shape != (height, width):
                raise MaskError(item.mask, f"mask is {mask.shape[1]}x{mask.shape[0]} but its image "
                                           f"{item.image.name} is {width}x{height}")
            if mask.size and int(mask.max()) >= len(codes):
                raise MaskError(item.mask, f"class index {int(mask.max())} is not in the class list "
                                           f"({len(codes)} classes)")
            write_mask(root / "labels" / f"{item.name}{MASK_SUFFIX}", mask, palette)
            counts["labelled"] += 1
        counts[item.subset] += 1
        if item.subset in lists:
            lists[item.subset].append(target.name)
        if log is not None and number % 100 == 0:
            log(f"  {number}/{len(items)} images")
    for subset, names in lists.items():
        if names:
            write_list(root / LIST_FILES[subset], names)
    from model.project import Project  # records the palette and marks every imported mask as a person's work

    Project.open(root).set_palette(palette)
    return counts


def write_list(path: Path, names: list[str]) -> None:
    """One file name per line, LF endings (fastai's FileSplitter splits on '\\n' only)."""
    atomic_write_text(path, "".join(f"{name}\n" for name in names))

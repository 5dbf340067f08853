"""The native layout (fastai's CamVid): ``images/``, ``labels/NAME_P.png``, ``codes.txt``, ``valid.txt``
(and ``test.txt``). A read-only scanner (never writes, unlike opening a Project) and the writer every
importer uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_text
from model.errors import DatasetError, LabeltoolError, MaskError
from model.images.imageio import IMAGE_SUFFIXES, MASK_SUFFIX, mask_shape_problem, read_image, write_mask
from model.project import layout
from model.project.codes import read_codes, write_codes
from model.project.palette import default_palette, validate_palette
from model.project.project import Project
from model.project.readonly_db import read_statuses

from .staging import check_name, copy_file

SUBSETS = ("train", "valid", "test")
LIST_FILES = layout.LIST_FILES


@dataclass
class Item:
    """One image to import: where its image and mask come from, and its split."""

    name: str
    image: Path
    mask: Path | None = None
    subset: str = "train"
    proposal_from: str | None = None  # the mask was never checked: it comes in as a proposal of this "model"


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


def scan_native(root: str | Path, codes: list[str] | None = None) -> NativeDataset:
    """Read the layout (model.project.layout, the rules Project uses) without writing anything; problems are
    collected, not raised. Statuses follow the project's provenance rule (model.project.read_statuses)."""

    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise DatasetError(root, "no such folder")
    data = NativeDataset(root=root, codes=codes)
    if codes is None:
        try:
            data.codes = read_codes(root / "codes.txt")
        except LabeltoolError as exc:
            data.problems.append(exc)
    folder = layout.images_dir(root)
    scan = layout.scan_images(folder, flat=folder == root)
    if folder != root and (root / "test").is_dir():  # a fastai export keeps its test images in test/
        layout.scan_images(root / "test", flat=False, into=scan)
    data.images = scan.images
    data.problems.extend(scan.problems)
    labels = layout.labels_dir(root)
    for path in sorted(labels.iterdir()) if labels.is_dir() else []:
        if path.name.startswith("."):
            continue
        if not path.is_file():
            if path.is_symlink():
                data.problems.append(DatasetError(path, "a symbolic link that leads to no file (broken or looping)"))
            continue
        if path.name.endswith(MASK_SUFFIX):
            data.labels[path.name[: -len(MASK_SUFFIX)]] = path
        else:
            data.stray_files.append(path)
            data.problems.append(DatasetError(path, f"not a mask name: masks are labels/NAME{MASK_SUFFIX} "
                                                    "(always PNG, whatever the image format)"))
    for subset, filename in LIST_FILES.items():
        names, problems = layout.read_split_list(root / filename, data.images)
        data.lists[subset] = names
        data.problems.extend(problems)
    data.statuses, saved_palette = read_statuses(root, list(data.images))
    if data.codes is not None:
        try:
            data.palette = validate_palette(saved_palette, len(data.codes)) if saved_palette is not None else None
        except (ValueError, TypeError):
            data.palette = None
        if data.palette is None:
            data.palette = default_palette(data.codes)
    return data


MaskReader = Callable[[Item, tuple[int, int]], np.ndarray]


def write_native(root: Path, codes: list[str], palette: np.ndarray, items: list[Item], read_item_mask: MaskReader,
                 log: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write items into the (empty, staged) folder ``root`` in the native layout. Images are copied byte
    for byte after a full decode (so a truncated file fails here, naming it); masks are decoded by
    ``read_item_mask(item, (width, height))`` and written as indexed PNGs with the palette: as a person's
    work, or, for an item with ``proposal_from`` (a mask nobody checked, model.datasets.unchecked), as a
    proposal, never as a correction."""
    seen: dict[str, Item] = {}
    for item in items:
        check_name(item.name, item.image)
        if item.subset not in SUBSETS:
            raise ValueError(f"unknown subset {item.subset!r}")
        if item.name in seen:
            raise DatasetError(item.image, f"same image name as {seen[item.name].image}; names must be unique")
        seen[item.name] = item
    write_codes(root / "codes.txt", codes)
    counts = {"train": 0, "valid": 0, "test": 0, "labelled": 0, "proposals": 0}
    lists: dict[str, list[str]] = {"valid": [], "test": []}
    proposals: list[tuple[Item, tuple[int, int]]] = []
    for number, item in enumerate(items, start=1):
        suffix = item.image.suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            raise DatasetError(item.image, f"not a PNG or JPEG image (suffix {item.image.suffix!r})")
        height, width = read_image(item.image).shape[:2]
        target = root / "images" / f"{item.name}{suffix}"
        copy_file(item.image, target)
        if item.mask is not None and item.proposal_from is not None:
            proposals.append((item, (width, height)))  # written through the project once it exists
        elif item.mask is not None:
            mask = _item_mask(item, (width, height), read_item_mask, len(codes))
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

    project = Project.open(root)
    project.set_palette(palette)
    with project.batch():
        for item, size in proposals:
            mask = _item_mask(item, size, read_item_mask, len(codes))
            project.save_mask(item.name, mask, "proposed", model=item.proposal_from)
            counts["labelled"] += 1
            counts["proposals"] += 1
    return counts


def _item_mask(item: Item, size: tuple[int, int], read_item_mask: MaskReader, classes: int) -> np.ndarray:
    """The item's mask, decoded and checked against its image size and the class count."""
    width, height = size
    mask = read_item_mask(item, size)
    problem = mask_shape_problem(mask, width, height)
    if problem:
        raise MaskError(item.mask, f"{problem} (image {item.image.name})")
    if mask.size and int(mask.max()) >= classes:
        raise MaskError(item.mask, f"class index {int(mask.max())} is not in the class list ({classes} classes)")
    return mask


def write_list(path: Path, names: list[str]) -> None:
    """One file name per line, LF endings (fastai's FileSplitter splits on '\\n' only)."""
    atomic_write_text(path, "".join(f"{name}\n" for name in names))

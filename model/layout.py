"""The dataset layout, in one place: where images, masks and split lists are, and what counts as an image.

``images/NAME.<image suffix>`` (or a flat folder of images), ``labels/NAME_P.png``, ``codes.txt``,
``valid.txt`` and ``test.txt`` (one image file name per line, relative to ``images/`` as fastai's
``FileSplitter`` reads it, or a bare name). ``Project``, ``check``, ``export`` and ``split`` all read the
layout through these functions, so they agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DatasetError, LabeltoolError
from .imageio import IMAGE_SUFFIXES, MASK_SUFFIX

LIST_FILES = {"valid": "valid.txt", "test": "test.txt"}


def images_dir(root: Path) -> Path:
    """``images/`` when present, else the folder itself (a flat folder of images)."""
    return root / "images" if (root / "images").is_dir() else root


def labels_dir(root: Path) -> Path:
    return root / "labels"


def label_path(root: Path, name: str) -> Path:
    return labels_dir(root) / f"{name}{MASK_SUFFIX}"


def is_image_file_name(file_name: str, flat: bool) -> bool:
    """An image to label: a known image suffix, not hidden, and (in a flat folder) not a mask."""
    if file_name.startswith("."):
        return False
    if os.path.splitext(file_name)[1].lower() not in IMAGE_SUFFIXES:
        return False
    return not (flat and file_name.endswith(MASK_SUFFIX))


@dataclass
class ImageScan:
    images: dict[str, Path] = field(default_factory=dict)  # name (stem) -> file, sorted by name
    problems: list[LabeltoolError] = field(default_factory=list)


def scan_images(folder: Path, flat: bool, into: ImageScan | None = None) -> ImageScan:
    """Every image in ``folder`` by name (one ``os.scandir``, no per-file stat for regular files).
    Broken or looping symbolic links and two files with one name are problems, each naming the file."""
    scan = into if into is not None else ImageScan()
    if not folder.is_dir():
        return scan
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            if not is_image_file_name(entry.name, flat):
                continue
            try:
                is_file = entry.is_file()  # follows links: False for a dangling or looping link
            except OSError:
                is_file = False
            if not is_file:
                if entry.is_symlink():
                    scan.problems.append(DatasetError(Path(entry.path), "a symbolic link that leads to no file "
                                                                        "(broken or looping)"))
                continue
            entries.append(entry.name)
    entries.sort()
    for file_name in entries:
        name = os.path.splitext(file_name)[0]
        if name in scan.images:
            scan.problems.append(DatasetError(folder / file_name, f"same image name as {scan.images[name].name}; "
                                                                  "names must be unique whatever the suffix"))
            continue
        scan.images[name] = folder / file_name
    return scan


def scan_labels(root: Path) -> dict[str, os.stat_result]:
    """name -> stat of ``labels/NAME_P.png`` for every mask file present (one scandir + one stat each)."""
    folder = labels_dir(root)
    found: dict[str, os.stat_result] = {}
    if not folder.is_dir():
        return found
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name.startswith(".") or not entry.name.endswith(MASK_SUFFIX):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            found[entry.name[: -len(MASK_SUFFIX)]] = st
    return found


def read_split_list(path: Path, images: dict[str, Path]) -> tuple[list[str], list[LabeltoolError]]:
    """Image names listed in ``valid.txt``/``test.txt``, in file order, and the problems of lines that
    name no image. A line is a file name relative to the images folder (fastai) or a bare name; a line
    ``a.png`` when the image is ``a.jpg`` is a problem (fastai would not match it), never a silent match."""
    from .datasets.staging import read_list, relative_entry

    if not path.exists():
        return [], []
    names: list[str] = []
    problems: list[LabeltoolError] = []
    try:
        rows = read_list(path)
    except LabeltoolError as exc:
        return [], [exc]
    by_file = {p.name: n for n, p in images.items()}
    for line, fields in rows:
        try:
            entry = relative_entry(" ".join(fields), path, line)
        except LabeltoolError as exc:
            problems.append(exc)
            continue
        if entry.name in by_file:
            name = by_file[entry.name]
        elif entry.name in images:
            name = entry.name
        else:
            other = images.get(entry.stem)
            hint = f" ({other.name} exists; fastai matches whole file names)" if other else ""
            problems.append(DatasetError(path, f"line {line}: {entry} is not an image of this dataset{hint}"))
            continue
        if name not in names:
            names.append(name)
    return names, problems

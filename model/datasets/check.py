"""Check a dataset: read every file, change none, and list every problem with its file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.errors import DatasetError, LabeltoolError
from model.images.imageio import MASK_SUFFIX, read_image, read_mask

from .native import scan_native


@dataclass
class CheckReport:
    root: Path
    codes: list[str] | None
    problems: list[str] = field(default_factory=list)
    pixels: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))
    images_with: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))
    splits: dict[str, list[int]] = field(default_factory=dict)  # subset -> [images, labelled]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_dataset(root: str | Path, log: Callable[[str], None] | None = None) -> CheckReport:
    data = scan_native(root)
    report = CheckReport(data.root, data.codes)
    report.problems.extend(str(problem) for problem in _folder_problems(data.root))
    report.problems.extend(str(problem) for problem in data.problems)
    num_classes = len(data.codes) if data.codes is not None else None
    for name, mask in data.labels.items():
        if name not in data.images:
            report.problems.append(str(DatasetError(mask, f"mask with no image (no images/{name}.png or .jpg)")))
    both = set(data.lists.get("valid", ())) & set(data.lists.get("test", ()))
    for name in sorted(both):
        report.problems.append(str(DatasetError(data.root / "test.txt", f"{name} is also in valid.txt")))
    report.splits = {subset: [0, 0] for subset in ("train", "valid", "test")}
    for number, (name, image) in enumerate(data.images.items(), start=1):
        size = None
        try:
            height, width = read_image(image).shape[:2]
            size = (width, height)
        except LabeltoolError as exc:
            report.problems.append(str(exc))
        split = report.splits[data.subset_of(name)]
        split[0] += 1
        mask_path = data.labels.get(name)
        if mask_path is not None:
            try:
                mask = read_mask(mask_path, num_classes, expected_size=size)
            except LabeltoolError as exc:
                report.problems.append(str(exc))
            else:
                split[1] += 1
                counts = np.bincount(mask.ravel(), minlength=256)
                report.pixels += counts
                report.images_with += counts > 0
        if log is not None and number % 100 == 0:
            log(f"  checked {number}/{len(data.images)} images")
    return report


def _folder_problems(root: Path) -> list[DatasetError]:
    """The layout's folders (images/, labels/, test/) when one is a link leading nowhere (broken or
    looping) or a file: the scan would otherwise see an empty or flat dataset and pass it."""
    problems = []
    for folder in ("images", "labels", "test"):
        path = root / folder
        if path.is_symlink() and not path.exists():  # exists() follows the link: False if broken or looping
            problems.append(DatasetError(path, "a symbolic link that leads to no folder (broken or looping)"))
        elif path.exists() and not path.is_dir():
            problems.append(DatasetError(path, "is a file; it must be a folder"))
    return problems


def format_report(report: CheckReport) -> str:
    codes = report.codes or []
    total = int(report.pixels.sum())
    rows = [("index", "class", "pixels", "share", "images")]
    for index in range(max(len(codes), int(np.flatnonzero(report.pixels).max(initial=-1)) + 1)):
        name = codes[index] if index < len(codes) else "(not in codes.txt)"
        share = f"{100.0 * report.pixels[index] / total:.2f}%" if total else "-"
        rows.append((str(index), name, f"{int(report.pixels[index]):,}", share, str(int(report.images_with[index]))))
    lines = [f"{report.root}: {len(codes)} classes, {sum(s[0] for s in report.splits.values())} images", ""]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [cell.ljust(w) if i == 1 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells))
    lines += ["", f"{'split':<6} {'images':>7} {'labelled':>9}"]
    for subset, (images, labelled) in report.splits.items():
        lines.append(f"{subset:<6} {images:>7} {labelled:>9}")
    lines.append("")
    if report.problems:
        lines.append(f"{len(report.problems)} problem(s):")
        lines += [f"  {problem}" for problem in report.problems]
    else:
        lines.append(f"no problems (masks are labels/NAME{MASK_SUFFIX}, every file read)")
    return "\n".join(lines)

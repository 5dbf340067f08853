"""Datasets in and out: detect a layout, import it into the native (fastai CamVid) layout, export to
fastai or CVAT CamVid 1.0, split by video sequence, and check a dataset without changing it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from model.errors import DatasetError

from .detect import FORMATS, detect_format
from .import_coco import plan_coco
from .import_colour import plan_colour_table, plan_cvat
from .import_fastai import plan_fastai
from .import_segnet import plan_segnet
from .import_voc import plan_voc
from .native import write_native
from .plan import ImportPlan
from .staging import staged


@dataclass
class ImportResult:
    format: str
    reason: str
    destination: Path
    counts: dict[str, int]
    classes: int
    warnings: list[str] = field(default_factory=list)


def plan_import(src: Path, fmt: str, class_file: Path | None, unknown_as_void: bool,
                exclude: Path | None = None) -> ImportPlan:
    if fmt == "segnet":
        return plan_segnet(src, class_file)
    if fmt == "cvat-camvid":
        return plan_cvat(src, class_file, unknown_as_void)
    if fmt == "colour-table":
        return plan_colour_table(src, class_file, unknown_as_void, exclude)
    if fmt == "fastai":
        return plan_fastai(src, class_file)
    if fmt in ("voc", "coco"):
        return plan_voc(src, class_file) if fmt == "voc" else plan_coco(src, class_file)
    raise DatasetError(src, f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def import_dataset(src: str | Path, dst: str | Path, fmt: str | None = None, class_file: str | Path | None = None,
                   unknown_as_void: bool = False, force: bool = False, limit: int | None = None,
                   log: Callable[[str], None] | None = None) -> ImportResult:
    """Import ``src`` into a new native dataset at ``dst`` (written beside it, moved into place at the end;
    on any error ``dst`` is left as it was)."""
    src, dst = Path(src).expanduser().absolute(), Path(dst).expanduser().absolute()
    if not src.is_dir():
        raise DatasetError(src, "no such folder")
    reason = "given with --format"
    if fmt is None:
        fmt, reason = detect_format(src)
    if log:
        log(f"{src}: {fmt} layout ({reason})")
    plan = plan_import(src, fmt, Path(class_file) if class_file else None, unknown_as_void, exclude=dst)
    if not plan.items:
        raise DatasetError(src, f"no images found in the {fmt} layout")
    if limit is not None:
        taken: dict[str, int] = {}
        kept = []
        for item in plan.items:
            if taken.get(item.subset, 0) < limit:
                taken[item.subset] = taken.get(item.subset, 0) + 1
                kept.append(item)
        plan.items = kept
    with staged(dst, force=force, src=src) as tmp:
        counts = write_native(tmp, plan.codes, plan.palette, plan.items, plan.mask_reader, log)
    return ImportResult(fmt, reason, dst, counts, len(plan.codes), plan.warnings)


__all__ = ["FORMATS", "ImportResult", "detect_format", "import_dataset", "plan_import"]

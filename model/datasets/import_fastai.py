"""The fastai/native layout as a source: copied and normalised (masks re-written as indexed PNGs with the
palette, codes.txt and the list files rewritten cleanly). Strict: any problem ``labeltool check`` would
report stops the import, naming the file. Masks nobody checked (not *corrected* in the source, or named in
its ``unchecked.list``) come in as proposals (model.datasets.unchecked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.errors import DatasetError
from model.images.imageio import read_mask
from model.project.palette import default_palette

from .import_colour import load_class_file
from .native import Item, scan_native
from .plan import ImportPlan
from .unchecked import is_checked, mark_proposals, read_unchecked


def plan_fastai(src: Path, class_file: Path | None) -> ImportPlan:
    colour_table = None
    if class_file is not None:
        names, colour_table = load_class_file(class_file)
        data = scan_native(src, codes=names)
        palette = colour_table if colour_table is not None else default_palette(names)
    else:
        data = scan_native(src)
        names, palette = data.codes, data.palette
    data.raise_first()
    for name, mask in data.labels.items():
        if name not in data.images:
            raise DatasetError(mask, f"mask with no image (no {name}.png or {name}.jpg in "
                                     f"{data.root.name}/images)")
    plan = ImportPlan("fastai", list(names), np.asarray(palette, dtype=np.uint8), [], None)
    both = set(data.lists.get("valid", ())) & set(data.lists.get("test", ()))
    if both:
        raise DatasetError(src / "test.txt", f"{len(both)} images are also in valid.txt (first: {sorted(both)[0]})")

    def read(item: Item, size: tuple[int, int]) -> np.ndarray:
        return read_mask(item.mask, len(names), colour_table=colour_table, expected_size=size)

    plan.mask_reader = read
    for name, image in data.images.items():
        plan.items.append(Item(name, image, data.labels.get(name), data.subset_of(name)))
    # masks nobody checked stay proposals: a labeltool dataset's own provenance, or an export's unchecked.list
    unchecked = {n for n in data.labels if not is_checked(data.statuses.get(n, "none"))}
    mark_proposals(plan.items, unchecked | read_unchecked(data.root, data.images), src)
    return plan

"""Two copies of a small dataset with chosen statuses per image, for the merge tests."""

import os
import shutil
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_bytes
from model.images.imageio import encode_mask, write_image
from model.project.codes import write_codes
from model.project.project import Project
from model.project.provenance import array_hash, person_info, stamp

CODES = ["Sky", "Road", "Car", "Void"]
H, W = 6, 8
STATUSES = ("none", "proposed", "unknown", "edited", "rejected", "corrected", "reviewed")

# ours (row) x theirs (column) with different pixels: what the merge does ("-": nothing to merge)
TABLE = """
           none  proposed unknown edited rejected corrected reviewed
none       -     take     take    take   take     take      take
proposed   keep  keep     take    take   take     take      take
unknown    keep  keep     conflict conflict take  take      take
edited     keep  keep     conflict conflict take  take      take
rejected   keep  keep     keep    keep   conflict take      take
corrected  keep  keep     keep    keep   keep     conflict  take
reviewed   keep  keep     keep    keep   keep     keep      conflict
"""


def expected_table():
    rows = [line.split() for line in TABLE.strip().splitlines()]
    columns = rows[0]
    return {(row[0], column): cell for row in rows[1:] for column, cell in zip(columns, row[1:], strict=True)}


def tree(root):
    out = {}
    for folder, _dirs, files in os.walk(root):
        for file_name in files:
            path = Path(folder) / file_name
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


def make_base(root, names):
    write_codes(root / "codes.txt", CODES)
    rng = np.random.default_rng(0)
    for name in names:
        write_image(root / "images" / f"{name}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    return root


def put(project, name, status, value):
    """Give ``name`` a mask of class ``value`` with ``status`` (reviewed/rejected through the stamp field)."""
    mask = np.full((H, W), value, np.uint8)
    mask[0, 0] = 3  # some Void, so the masks are not flat
    if status == "none":
        return
    if status in ("proposed", "edited", "corrected"):
        project.save_mask(name, mask, status, model="m1" if status == "proposed" else None)
        return
    png = encode_mask(mask, project.palette)
    if status == "unknown":  # a model's stamp whose pixels changed
        info = {"source": "model", "model": "m1", "at": "2026-01-01T00:00:00", "pixels": "0" * 64, "data": "0" * 64}
    else:
        info = person_info("ann", "2026-01-02T00:00:00", checked=True)
        info["review"] = {"verdict": "approved" if status == "reviewed" else "rejected", "by": "rev",
                          "at": "2026-01-03T00:00:00", "note": "fix the car", "pixels": array_hash(mask)}
    atomic_write_bytes(project.label_path(name), stamp(png, info))


def two_copies(tmp_path, cases, same_pixels=False):
    """OURS and THEIRS, one image per (ours status, theirs status) case."""
    names = [f"{o}__{t}" for o, t in cases]
    ours_root = make_base(tmp_path / "ours", names)
    theirs_root = tmp_path / "theirs"
    shutil.copytree(ours_root, theirs_root)
    ours, theirs = Project.open(ours_root), Project.open(theirs_root)
    for (o, t), name in zip(cases, names, strict=True):
        put(ours, name, o, 1)
        put(theirs, name, t, 1 if same_pixels else 2)
    ours.db.close()
    theirs.db.close()
    return ours_root, theirs_root


def outcomes(plan):
    return {tuple(item.name.split("__")): item.outcome for item in plan.items}

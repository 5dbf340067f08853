"""Project bookkeeping at scale: 1,000 / 10,000 / 100,000 images, the record (SQLite + provenance in
each mask) against labeltool 0.1's project.json code path as the baseline, in the same run.

Half of the images have a model's proposal. Images and masks are hard links to one small file each
(120x90), so the figures are the bookkeeping's, not the disk's. Rows:

- ``open``: ``Project.open`` with its record in place (the usual start of the app or a command);
- ``open_after_copy``: the first open of a ``cp -r``-style copy (every mask file's mtime changed; the new
  code re-reads the provenance of every mask, the old one trusts project.json's mtimes and turns every
  proposal into a "correction" — a wrong answer, timed anyway);
- ``save_list_p95``: one person's save plus the list update, p95 of 30 saves (old: save + the full
  ``statuses()`` pass the window made after every save; new: save + the one row's status);
- ``accept_next``: Accept (save of the pixels on screen) plus decoding the next image and mask, median;
- ``proposal_bookkeeping``: the record update of one proposal (old: the project.json rewrite of
  ``_record``; new: the row update inside a proposal run's batch), mean over 200 (old: 20 at 100k).

    .venv/bin/python benchmarks/bench_project_scale.py [--sizes 1000 10000 100000] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import REPO, RESULTS, write_json

from model.images.imageio import encode_mask, read_image, read_mask, write_image
from model.project.codes import write_codes
from model.project.project import Project
from model.project.provenance import stamp

BASELINE_COMMIT = "647eab5"  # the last commit with labeltool 0.1's project.json record
CODES = ["Sky", "Road", "Car", "Void"]
H, W = 90, 120


def legacy_project_class():
    """labeltool 0.1's Project, loaded from git history into its own module."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{BASELINE_COMMIT}:model/project.py"],
                            check=True, capture_output=True, text=True).stdout
    for flat, now in (("codes", "project.codes"), ("imageio", "images.imageio"), ("palette", "project.palette")):
        source = source.replace(f"from .{flat} import", f"from model.{now} import")  # the packages of issue 17
    source = source.replace("from .", "from model.")
    path = Path(tempfile.mkdtemp()) / "legacy_project.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("legacy_project", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Project


def build(root: Path, n: int, stamped: bool) -> None:
    """n images (hard links), the first half with a proposal mask (stamped with provenance for the new
    code; plain for the old one, whose project.json is written by its first open)."""
    write_codes(root / "codes.txt", CODES)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    png = encode_mask(np.ones((H, W), np.uint8), None)
    if stamped:
        png = stamp(png, {"source": "model", "model": "bench", "at": "now"}, with_pixels=True)
    for i in range(n):
        if i % 50000 == 0:  # a file system allows ~65,000 links to one file
            src, msk = root / f"src{i}.png", root / f"mask{i}.png"
            write_image(src, pixels)
            msk.write_bytes(png)
        os.link(src, root / "images" / f"f{i:06d}.png")
        if i < n // 2:
            os.link(msk, root / "labels" / f"f{i:06d}_P.png")


def touch_all(root: Path) -> None:
    """What cp -r does to the mask files: new mtimes."""
    now = time.time_ns() + 10**9
    for path in (root / "labels").iterdir():
        os.utime(path, ns=(now, now))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(label: str, cls, stamped: bool, n: int) -> dict:
    """One code path (old or new) on a fresh folder of n images."""
    mask = np.zeros((H, W), np.uint8)
    tmp = Path(tempfile.mkdtemp(prefix=f"scale-{label}-"))
    try:
        root = tmp / "ds"
        build(root, n, stamped)
        if label == "old":  # 0.1's first open marks every mask present as corrected; make half proposals
            p = cls.open(root)
            p._update_state(lambda s: [r.__setitem__("status", "proposed") for r in s["images"].values()])
        else:
            Project.open(root)
        r: dict = {}
        r["open_s"] = min(timed(lambda: cls.open(root)) for _ in range(2))
        project = cls.open(root)
        saves = []
        for i in range(30):
            name = f"f{n - 1 - i:06d}"
            start = time.perf_counter()
            project.save_mask(name, mask, "corrected")
            if label == "old":
                project.statuses()
            else:
                project.status(name)
            saves.append(time.perf_counter() - start)
        r["save_list_p95_ms"] = float(np.percentile(saves, 95) * 1000)
        accepts = []
        for i in range(10):
            name, nxt = f"f{n - 40 - i:06d}", f"f{i:06d}"
            start = time.perf_counter()
            project.save_mask(name, mask, "corrected")
            read_image(project.image_path(nxt))
            read_mask(project.label_path(nxt), len(CODES))
            project.status(nxt)
            accepts.append(time.perf_counter() - start)
        r["accept_next_ms"] = float(np.median(accepts) * 1000)
        count = 20 if (label == "old" and n >= 50000) else 200
        names = [f"f{i:06d}" for i in range(count)]
        if label == "old":
            st = project.label_path(names[0]).stat().st_mtime_ns
            t = timed(lambda: [project._record(nm, "proposed", st) for nm in names])
        else:
            def new_bookkeeping():
                for start in range(0, count, 4):
                    with project.batch():
                        for nm in names[start:start + 4]:
                            project.db.put(nm, status="proposed", size=1, mtime_ns=1, model="bench",
                                           mean_confidence=0.5, unsure_fraction=0.1)
            t = timed(new_bookkeeping)
        r["proposal_bookkeeping_ms"] = t / count * 1000
        touch_all(root)
        if label == "new":
            (root / ".labeltool" / "record.sqlite").unlink()  # a copy made without the record, worst case
            for suffix in ("-wal", "-shm"):
                Path(str(root / ".labeltool" / "record.sqlite") + suffix).unlink(missing_ok=True)
        r["open_after_copy_s"] = timed(lambda: cls.open(root))
        copy = cls.open(root)
        statuses = copy.statuses()
        r["proposals_kept_after_copy"] = sum(1 for s in statuses.values() if s == "proposed")
        return r
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

def run_size(n: int, legacy_cls) -> dict:
    out: dict = {"images": n}
    for label, cls, stamped in (("old", legacy_cls, False), ("new", Project, True)):
        out[label] = measure(label, cls, stamped, n)
    return out

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--out", default=str(RESULTS / "project_scale.json"))
    args = parser.parse_args()
    legacy = legacy_project_class()
    results = []
    for n in args.sizes:
        print(f"... {n} images", file=sys.stderr, flush=True)
        results.append(run_size(n, legacy))
    keys = [("open_s", "open (s)"), ("open_after_copy_s", "open after cp -r (s)"),
            ("save_list_p95_ms", "save + list p95 (ms)"), ("accept_next_ms", "accept -> next (ms)"),
            ("proposal_bookkeeping_ms", "bookkeeping / proposal (ms)"),
            ("proposals_kept_after_copy", "proposals kept after copy")]
    print(f"{'images':>8} {'measure':<30} {'0.1 (json)':>12} {'record':>12} {'old/new':>8}")
    for res in results:
        for key, label in keys:
            old, new = res["old"][key], res["new"][key]
            ratio = f"{old / new:8.1f}" if isinstance(old, float) and new else f"{'':>8}"
            print(f"{res['images']:>8} {label:<30} {old:>12.4g} {new:>12.4g} {ratio}")
    payload = {"benchmark": "project_scale", "baseline": f"labeltool 0.1 project.json (git {BASELINE_COMMIT})",
               "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                           "platform": platform.platform(), "load_avg": os.getloadavg()},
               "targets_at_100k": {"open_s": 2.0, "save_list_p95_ms": 15.0, "proposal_bookkeeping_ms": 1.0},
               "results": results}
    write_json(args.out, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

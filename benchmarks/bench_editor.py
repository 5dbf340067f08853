"""Editor speed benchmark: brush dab, 100-dab stroke, half-image fill, wand, undo of the fill.

Every timing includes the overlay update (``Overlay.update`` of the touched bbox).
The naive baseline does the same edit but recomputes the whole overlay
(``Overlay.refresh``) each time, as a canvas without partial redraw would; the
``fill`` row also has a skimage.segmentation.flood baseline.

    .venv/bin/python benchmarks/bench_editor.py [--quick] [--out benchmarks/results/editor.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from skimage.segmentation import flood

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labeltool.editing import LabelLayer, Overlay  # noqa: E402

NAMES = ["Road", "Car", "Sky", "Void"]
PALETTE = np.array([[128, 64, 128], [0, 0, 142], [70, 130, 180], [0, 0, 0]], dtype=np.uint8)
SIZES = [(720, 960), (2160, 3840)]
TARGETS_4K = {"dab": 4.0, "fill": 25.0}  # ms, p95 for the dab, median for the fill


def scene(h, w, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, w // 2:] = 200
    img += rng.integers(0, 12, img.shape, dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[:, w // 2:] = 1
    return img, mask


def stats(ts):
    a = np.asarray(ts) * 1000.0
    return {"median_ms": float(np.median(a)), "p95_ms": float(np.percentile(a, 95)), "n": len(a)}


def timed(fn, n, setup=None):
    out = []
    for i in range(n):
        if setup is not None:
            setup(i)
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def run_size(h, w, quick):
    img, mask0 = scene(h, w)
    layer = LabelLayer(mask0, NAMES, PALETTE, 3)
    ov = Overlay(layer.mask, layer.palette)
    rng = np.random.default_rng(1)
    pts = rng.integers([20, 20], [h - 20, w - 20], size=(400, 2))
    n_dab, n_naive = (60, 10) if quick else (300, 40)
    n_op = 5 if quick else 15
    res = {}

    def dab(i, full=False):
        y, x = pts[i % len(pts)]
        c = layer.dab(y, x, 20, 2 + (i % 2))
        ov.refresh() if full else ov.update(c)

    res["dab r=20"] = (stats(timed(dab, n_dab)), stats(timed(lambda i: dab(i, True), n_naive)))

    def stroke(i, full=False):
        y0 = 40 + (i * 37) % (h - 80)
        layer.begin_step("stroke")
        for k in range(100):
            c = layer.dab(y0 + (k % 7), 30 + k * (w - 60) // 100, 20, 2 + (i % 2))
            ov.refresh() if full else ov.update(c)
        layer.end_step()

    res["stroke 100 dabs"] = (stats(timed(stroke, max(3, n_op // 2))), stats(timed(lambda i: stroke(i, True), 2)))

    # fill / undo / wand start from the clean two-region mask each time
    def reset(_i):
        while layer.history.can_undo():
            ov.update(layer.undo())
        layer.mask[:] = mask0
        ov.refresh()

    def fill(i, full=False):
        c = layer.fill(h // 2, w // 4, 2)
        ov.refresh() if full else ov.update(c)

    def naive_flood(i):
        before = layer.mask.copy()  # naive undo: whole-mask snapshot
        layer.mask[flood(layer.mask, (h // 2, w // 4), connectivity=1)] = 2
        ov.refresh()
        del before

    res["fill half image"] = (stats(timed(fill, n_op, reset)), stats(timed(lambda i: fill(i, True), n_op, reset)))
    res["fill (skimage flood baseline)"] = (None, stats(timed(naive_flood, n_op, reset)))

    def wand(i, full=False):
        c = layer.wand(img, h // 2, w // 4, 30, 2)
        ov.refresh() if full else ov.update(c)

    res["wand (half image)"] = (stats(timed(wand, n_op, reset)), stats(timed(lambda i: wand(i, True), n_op, reset)))

    def prep_undo(i):
        reset(i)
        fill(i)

    def undo(i, full=False):
        c = layer.undo()
        ov.refresh() if full else ov.update(c)

    res["undo of fill"] = (stats(timed(undo, n_op, prep_undo)),
                           stats(timed(lambda i: undo(i, True), n_op, prep_undo)))
    reset(0)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "editor.json"))
    args = ap.parse_args(argv)
    report = {"python": platform.python_version(), "machine": platform.machine(),
              "numpy": np.__version__, "targets_4k_ms": TARGETS_4K, "results": {}}
    header = f"{'size':>10} | {'operation':<30} | {'median ms':>9} | {'p95 ms':>8} | " \
             f"{'naive med':>9} | {'naive p95':>9} | {'speed-up':>8}"
    print(header)
    print("-" * len(header))
    for h, w in SIZES:
        key = f"{w}x{h}"
        rows = run_size(h, w, args.quick)
        report["results"][key] = {}
        for name, (ours, naive) in rows.items():
            ratio = naive["median_ms"] / ours["median_ms"] if ours else None
            report["results"][key][name] = {"ours": ours, "naive": naive, "speedup_median": ratio}
            om = f"{ours['median_ms']:9.2f} | {ours['p95_ms']:8.2f}" if ours else f"{'-':>9} | {'-':>8}"
            rs = f"{ratio:7.1f}x" if ratio else f"{'-':>8}"
            print(f"{key:>10} | {name:<30} | {om} | {naive['median_ms']:9.2f} | {naive['p95_ms']:9.2f} | {rs}")
    r4k = report["results"]["3840x2160"]
    report["targets_met"] = {
        "dab_p95": r4k["dab r=20"]["ours"]["p95_ms"] <= TARGETS_4K["dab"],
        "fill_median": r4k["fill half image"]["ours"]["median_ms"] <= TARGETS_4K["fill"],
    }
    print("targets at 3840x2160:", report["targets_met"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print("wrote", out)


if __name__ == "__main__":
    main()

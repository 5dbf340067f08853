"""An annotation session, simulated: how many actions a person needs per image, from an empty project to a
finished one, with labeltool's own tools, and how that falls as the model learns.

A simulated annotator opens CamVid-11 training frames in the app's order (by name: the window's order
before any model exists) in a fresh project with no masks. For each image it starts from what the app
would propose:

- nothing (all Void) before the first model and without a corrected neighbour frame;
- the previous frame's corrected mask warped by optical flow (``model.inference.propagate``), when there is one;
- once a model exists, what the app's proposer writes (``model.inference.propose.propose_dataset`` with
  ``neighbours="auto"``): per image the source the active model measured at the end of its retrain for the gap
  to the corrected neighbour (network, warp or their combination; the card's ``proposal_source``), the warp
  only where it passes its guard.

Then it edits with the app's tools until >= 95 % of the image's non-Void pixels are right, and accepts:

- **scribble** (key T): when the start is poor (< 60 % right), straight strokes inside the largest
  regions of each class (one stroke = one action; drawn well inside the region, never across a
  boundary), the pixel classifier filling the rest; further rounds of strokes inside the largest wrong
  areas while a round still gains >= 1 point (a round that makes things worse is undone: +1 action);
- **superpixel click** (S, SLIC as the app computes it) and **fill click** (F): one action each, the best
  available click chosen greedily by pixels gained;
- **brush** (B): a wrong area painted in strokes of ~40 px of its skeleton each (one action per stroke),
  when no click gains as much per action.

Every K accepted images the project is retrained with the one-click defaults (``train_dataset(root)``,
fine-tuning the latest model as the app does); the next images' proposals come from the new model.
Baseline in the same run: tracing every region as polygons, one action per vertex (vertices from the
ground-truth contours, ``skimage.measure.find_contours`` + ``approximate_polygon`` at 1 px), largest
regions first until 95 % of the non-Void pixels are covered.

    nice -n 10 python benchmarks/bench_session.py --quick          # 8 images, K=4, 45 s retrains
    nice -n 10 python benchmarks/bench_session.py --images 50 --k 10   # the full session (~1 h on 2 cores)

Skips cleanly (exit 0) when ../shared/camvid11 is absent. Results: benchmarks/results/session*.json and
session*.png (actions per image, ours vs polygons).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CAMVID = REPO.parent / "shared" / "camvid11"
RESULTS = REPO / "benchmarks" / "results"
VOID = 11
N_CLASSES = 12
TARGET = 0.95
MIN_AREA = 300          # px: smaller areas are not worth a scribble stroke
MAX_ACTIONS = 400       # per image (a safety net; never reached in practice)
BRUSH_PX_PER_STROKE = 40


# ------------------------------------------------------------------------------------------ helpers

def accuracy(mask: np.ndarray, gt: np.ndarray) -> float:
    scored = gt != VOID
    return float((mask[scored] == gt[scored]).mean()) if scored.any() else 1.0


def components(binary: np.ndarray, min_area: int = 1):
    """(area, bool mask) of the 4-connected components of ``binary``, largest first."""
    lab, n = ndimage.label(binary)
    if n == 0:
        return []
    areas = np.bincount(lab.ravel())[1:]
    order = np.argsort(-areas)
    objs = ndimage.find_objects(lab)
    out = []
    for i in order:
        if areas[i] < min_area:
            break
        sl = objs[i]
        out.append((int(areas[i]), sl, lab[sl] == i + 1))
    return out


def error_components(mask, gt, min_area=1):
    """Wrong areas, each of one true class: (area, slices, region, true class), largest first."""
    out = []
    wrong = (mask != gt) & (gt != VOID)
    for c in np.unique(gt[wrong]):
        for area, sl, reg in components(wrong & (gt == c), min_area):
            out.append((area, sl, reg, int(c)))
    out.sort(key=lambda t: -t[0])
    return out


def stroke_inside(region_full: np.ndarray, max_radius: int = 5):
    """A straight stroke (p0, p1, radius) well inside ``region_full``: through its deepest point along its
    main axis, stopping where the brush would leave the region. None for regions too thin to stroke."""
    dt = ndimage.distance_transform_edt(np.pad(region_full, 1))[1:-1, 1:-1]
    deepest = float(dt.max())
    if deepest < 2.0:
        return None
    r = int(min(max_radius, deepest - 1.5))
    cy, cx = np.unravel_index(int(dt.argmax()), dt.shape)
    ys, xs = np.nonzero(region_full)
    if len(ys) > 4000:
        pick = np.random.default_rng(0).choice(len(ys), 4000, replace=False)
        ys, xs = ys[pick], xs[pick]
    cov = np.cov(np.stack([ys, xs]).astype(np.float64)) if len(ys) > 2 else np.eye(2)
    w, v = np.linalg.eigh(cov)
    d = v[:, int(np.argmax(w))]
    h, wd = dt.shape
    ends = []
    for sign in (1, -1):
        t = 0.0
        while True:
            y, x = cy + sign * (t + 1) * d[0], cx + sign * (t + 1) * d[1]
            yi, xi = int(round(y)), int(round(x))
            if not (0 <= yi < h and 0 <= xi < wd) or dt[yi, xi] < r + 1.0:
                break
            t += 1
        ends.append((cy + sign * t * d[0], cx + sign * t * d[1]))
    return ends[1], ends[0], r


def polygon_vertices(gt: np.ndarray) -> int:
    """Polygon clicks to trace the ground truth, largest regions first, until 95 % of non-Void is covered."""
    from skimage.measure import approximate_polygon, find_contours

    scored = int((gt != VOID).sum())
    regions = []
    for c in np.unique(gt):
        if c == VOID:
            continue
        regions += [(area, sl, reg) for area, sl, reg in components(gt == c)]
    regions.sort(key=lambda t: -t[0])
    covered = vertices = 0
    for area, _sl, reg in regions:
        if covered >= TARGET * scored:
            break
        for contour in find_contours(np.pad(reg, 1).astype(np.float32), 0.5):
            vertices += max(3, len(approximate_polygon(contour, tolerance=1.0)) - 1)
        covered += area
    return vertices


def brush_strokes(region: np.ndarray) -> int:
    """Brush strokes to paint ``region``: one per BRUSH_PX_PER_STROKE px of its skeleton (at least one)."""
    from skimage.morphology import skeletonize

    return max(1, math.ceil(int(skeletonize(region).sum()) / BRUSH_PX_PER_STROKE))


# ---------------------------------------------------------------------------------------- annotator

class Annotator:
    """Edits one image with the app's editing model (labeltool.editing) until it is TARGET right."""

    def __init__(self, image, gt, start, confidence=None):
        from labeltool.editing import LabelLayer
        from labeltool.editing.regions import compute_superpixels

        names = [str(i) for i in range(N_CLASSES)]
        palette = np.zeros((N_CLASSES, 3), np.uint8)
        self.image, self.gt = image, gt
        self.layer = LabelLayer(start, names, palette, VOID)
        self.sp = compute_superpixels(image)
        self.confidence = confidence
        self.actions = {"scribble": 0, "superpixel": 0, "fill": 0, "brush": 0, "undo": 0}

    @property
    def mask(self):
        return self.layer.mask

    def acc(self):
        return accuracy(self.layer.mask, self.gt)

    def total(self):
        return sum(self.actions.values())

    # ---- scribble
    def scribble_phase(self):
        from labeltool.editing.scribble import ScribbleSession

        session = ScribbleSession(self.image, background=False)
        session.set_confidence(self.confidence)
        # round 1: one stroke in each large region of each class
        targets = []
        for c in np.unique(self.gt):
            if c == VOID:
                continue
            for area, sl, reg in components(self.gt == c, MIN_AREA)[:3]:
                targets.append((area, sl, reg, int(c)))
        targets.sort(key=lambda t: -t[0])
        rounds = 0
        while targets and rounds < 4 and self.acc() < TARGET:
            before = self.acc()
            strokes = 0
            for _area, sl, reg, c in targets[:12]:
                full = np.zeros_like(self.gt, dtype=bool)
                full[sl] = reg
                s = stroke_inside(full)
                if s is None:
                    continue
                session.add_stroke(s[0], s[1], s[2], c)
                strokes += 1
            if strokes == 0:
                break
            self.actions["scribble"] += strokes
            session.apply(self.layer, session.predict())
            rounds += 1
            gain = self.acc() - before
            if gain < 0:
                self.layer.undo()
                self.actions["undo"] += 1
                break
            if gain < 0.01:
                break
            targets = error_components(self.layer.mask, self.gt, MIN_AREA)[:6]

    # ---- clicks and brush
    def best_superpixel(self):
        lab = self.sp.labels.ravel()
        gt = self.gt.ravel()
        mask = self.layer.mask.ravel()
        scored = gt != VOID
        n = int(lab.max()) + 1
        per = np.bincount(lab[scored] * N_CLASSES + gt[scored], minlength=n * N_CLASSES).reshape(n, N_CLASSES)
        right = scored & (mask == gt)
        correct = np.bincount(lab[right], minlength=n)
        per[:, VOID] = 0
        gain = per - correct[:, None]
        # a click is only worth it where the superpixel is not already that class
        cur = np.bincount(lab * N_CLASSES + mask, minlength=n * N_CLASSES).reshape(n, N_CLASSES)
        size = np.bincount(lab, minlength=n)
        gain[cur == size[:, None]] = 0
        k = int(np.argmax(gain))
        sp_id, c = divmod(k, N_CLASSES)
        if gain.flat[k] <= 0:
            return None
        ys, xs = np.nonzero(self.sp.labels == sp_id)
        return int(gain.flat[k]), (int(ys[len(ys) // 2]), int(xs[len(xs) // 2]), c)

    def best_fill(self, errs):
        from labeltool.editing.regions import fill_region

        best = None
        for _area, sl, reg, c in errs[:5]:
            ys, xs = np.nonzero(reg)
            cur = self.layer.mask[sl][reg]
            m = np.bincount(cur, minlength=N_CLASSES).argmax()
            i = int(np.flatnonzero(cur == m)[len(np.flatnonzero(cur == m)) // 2])
            y, x = ys[i] + sl[0].start, xs[i] + sl[1].start
            bbox, region = fill_region(self.layer.mask, y, x)
            g = self.gt[bbox[0]:bbox[2], bbox[1]:bbox[3]][region]
            gain = int((g == c).sum() - (g == m).sum())
            if best is None or gain > best[0]:
                best = (gain, (y, x, c))
        return best if best is not None and best[0] > 0 else None

    def brush(self, err):
        _area, sl, reg, c = err
        strokes = brush_strokes(reg)
        self.layer.paint_region((sl[0].start, sl[1].start, sl[0].stop, sl[1].stop), reg, c)
        self.actions["brush"] += strokes

    def correct(self):
        while self.acc() < TARGET and self.total() < MAX_ACTIONS:
            errs = error_components(self.layer.mask, self.gt)
            if not errs:
                break
            options = []
            sp = self.best_superpixel()
            if sp is not None:
                options.append((sp[0], "superpixel", sp[1]))
            fl = self.best_fill(errs)
            if fl is not None:
                options.append((fl[0], "fill", fl[1]))
            err = errs[0]
            options.append((err[0] / brush_strokes(err[2]), "brush", err))
            _gain, kind, arg = max(options, key=lambda o: o[0])
            if kind == "superpixel":
                self.layer.superpixel(self.sp, arg[0], arg[1], arg[2])
                self.actions["superpixel"] += 1
            elif kind == "fill":
                self.layer.fill(arg[0], arg[1], arg[2])
                self.actions["fill"] += 1
            else:
                self.brush(arg)


# ------------------------------------------------------------------------------------------ session

def draw_curve(path: Path, ours: list[int], polygons: list[int], retrain_at: list[int], title: str) -> None:
    """Actions per image (log scale), ours vs polygon tracing, as a PNG drawn with PIL."""
    from PIL import Image, ImageDraw

    w, h, m = 900, 480, 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    n = max(2, len(ours))
    top = max(10, max(polygons + ours + [1]))
    lo, hi = 0.0, math.log10(top * 1.3)

    def xy(i, v):
        x = m + (w - 2 * m) * i / (n - 1)
        y = h - m - (h - 2 * m) * (math.log10(max(v, 1)) - lo) / (hi - lo)
        return x, y

    d.rectangle([m, m, w - m, h - m], outline="black")
    for dec in range(0, int(hi) + 1):
        for k in (1, 2, 5):
            v = k * 10 ** dec
            if v <= top * 1.3:
                _, y = xy(0, v)
                d.line([m, y, w - m, y], fill=(225, 225, 225))
                d.text((8, y - 6), str(v), fill="black")
    for r in retrain_at:
        x, _ = xy(r - 0.5, 1)
        d.line([x, m, x, h - m], fill=(180, 180, 255))
    for series, colour in ((polygons, (200, 60, 60)), (ours, (30, 120, 30))):
        pts = [xy(i, v) for i, v in enumerate(series)]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for x, y in pts:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    for i in range(0, n, max(1, n // 10)):
        x, _ = xy(i, 1)
        d.text((x - 4, h - m + 6), str(i + 1), fill="black")
    d.text((m, 12), title, fill="black")
    d.text((m, 30), "actions per image (log): green = labeltool session, red = polygon tracing; blue = retrain",
           fill="black")
    d.text((w // 2 - 30, h - 24), "image #", fill="black")
    img.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20, help="frames to label (first N of train/ by name)")
    parser.add_argument("--k", type=int, default=5, help="retrain every K accepted images")
    parser.add_argument("--budget", type=float, help="retrain time budget in s (default: the one-click default)")
    parser.add_argument("--quick", action="store_true", help="8 images, K=4, 45 s retrains")
    parser.add_argument("--start", type=int, default=0, help="index of the first frame in name order")
    parser.add_argument("--stride", type=int, default=1, help="take every STRIDE-th frame")
    parser.add_argument("--no-propagate", action="store_true", help="no neighbour-frame proposals")
    parser.add_argument("--scribble-below", type=float, default=0.6,
                        help="start with scribbles when the proposal is less right than this")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    if args.quick:
        args.images, args.k, args.budget = min(args.images, 8), min(args.k, 4), args.budget or 45.0
    if not (CAMVID / "train").is_dir():
        print(f"skipped: {CAMVID} is not present")
        return 0
    import torch

    torch.set_num_threads(2)
    from model.errors import LabeltoolError
    from model.images.imageio import read_image, read_mask
    from model.inference.predict import Predictor
    from model.inference.propagate import combine, propose_from_neighbour
    from model.inference.propose import propose_dataset
    from model.nets.config import TrainConfig
    from model.project.codes import CAMVID11_CODES
    from model.project.project import Project
    from model.project.provenance import read_provenance
    from model.registry.modelfile import load_model
    from model.registry.registry import active_model
    from model.training.train import train_dataset

    frames = sorted(p.stem for p in (CAMVID / "train").glob("*.png"))[args.start::args.stride][:args.images]
    cfg = TrainConfig.from_dict({"time_budget": args.budget}) if args.budget else None
    rows, rounds = [], []
    predictor, model_name, round_no = None, None, 0
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        (root / "images").mkdir(parents=True)
        (root / "codes.txt").write_text("\n".join(CAMVID11_CODES) + "\n")
        for n in frames:
            shutil.copy(CAMVID / "train" / f"{n}.png", root / "images" / f"{n}.png")
        project = Project.open(root)
        accepted = 0
        for i, name in enumerate(frames):
            t0 = time.monotonic()
            image = read_image(CAMVID / "train" / f"{name}.png")
            gt = read_mask(CAMVID / "trainannot" / f"{name}.png")
            net_mask = net_conf = None
            if predictor is not None:
                pred = predictor.predict(image)
                net_mask, net_conf = pred.mask, pred.confidence
            neighbour = None if args.no_propagate else propose_from_neighbour(project, name)
            candidates = {}
            if neighbour is not None:
                candidates[neighbour.method] = 1 - accuracy(neighbour.mask, gt)
            if net_mask is not None:
                candidates["network"] = 1 - accuracy(net_mask, gt)
            if neighbour is not None and net_mask is not None:
                for th in (0.5, 0.7, 0.9):
                    candidates[f"network>={th:g} else {neighbour.method}"] = 1 - accuracy(
                        combine(neighbour.mask, net_mask, net_conf, th), gt)
            if predictor is not None:  # what the app shows: propose_dataset with the source the model measured
                propose_dataset(project, names=[name], predictor=predictor, neighbours="auto")
                start = project.load_mask(name)
                made_by = str((read_provenance(project.label_path(name)).info or {}).get("model") or "")
                source = made_by.split(" + ", 1)[1].split(" of ", 1)[0] if " + " in made_by else "network"
            elif neighbour is not None:
                start, source = neighbour.mask, neighbour.method
            else:
                start, source = np.full(gt.shape, VOID, np.uint8), "none"
            proposal_wrong = 1 - accuracy(start, gt)
            ann = Annotator(image, gt, start, net_conf)
            if ann.acc() < args.scribble_below:
                ann.scribble_phase()
            ann.correct()
            project.save_mask(name, ann.mask.copy(), "corrected")
            accepted += 1
            row = {"image": i + 1, "name": name, "proposal": source, "model": model_name, "round": round_no,
                   "proposal_wrong": round(proposal_wrong, 4), "final_right": round(ann.acc(), 4),
                   "candidates_wrong": {k: round(v, 4) for k, v in candidates.items()},
                   "actions": ann.total(), **{f"n_{k}": v for k, v in ann.actions.items()},
                   "polygon_vertices": polygon_vertices(gt), "seconds": round(time.monotonic() - t0, 1)}
            rows.append(row)
            print(f"{i + 1:>3} {name:<16} {source:<15} proposal wrong {proposal_wrong:6.3f}  actions {ann.total():>4} "
                  f"({', '.join(f'{k} {v}' for k, v in ann.actions.items() if v)})  polygons {row['polygon_vertices']:>5}"
                  f"  {row['seconds']:.0f} s", flush=True)
            if accepted % args.k == 0 and i + 1 < len(frames):
                t = time.monotonic()
                fallback = None
                try:
                    path = train_dataset(root, cfg)
                except (LabeltoolError, IndexError) as exc:
                    # seen with one video: a later retrain holds out the whole sequence of the first
                    # retrain's tail hold-out and has nothing left to train on; retrain unvalidated
                    fallback = f"{type(exc).__name__}: {exc}"
                    print(f"    one-click retrain failed ({fallback}); retrying with validate=False", flush=True)
                    over = {"validate": False, **({"time_budget": args.budget} if args.budget else {})}
                    path = train_dataset(root, TrainConfig.from_dict(over))
                path = active_model(root / "models") or path  # the app proposes with the active model
                loaded = load_model(path)
                predictor = Predictor(loaded, device="cpu", batch_size=1)
                predictor.model_name = path.name
                model_name, round_no = path.name, round_no + 1
                rounds.append({"round": round_no, "after_images": accepted, "model": path.name,
                               "proposal_source": (loaded.card or {}).get("proposal_source"),
                               "train_seconds": round(time.monotonic() - t, 1), "fallback": fallback})
                print(f"    retrained on {accepted} images in {time.monotonic() - t:.0f} s: {path.name}", flush=True)
    per_round = []
    for r in sorted({row["round"] for row in rows}):
        sel = [row for row in rows if row["round"] == r]
        keys = sorted({k for row in sel for k in row["candidates_wrong"]})
        cands = {k: round(float(np.mean([row["candidates_wrong"][k] for row in sel if k in row["candidates_wrong"]])), 4)
                 for k in keys}
        per_round.append({"round": r, "images": len(sel), "candidates_wrong_mean": cands,
                          "proposal_wrong_mean": round(float(np.mean([s["proposal_wrong"] for s in sel])), 4),
                          "actions_mean": round(float(np.mean([s["actions"] for s in sel])), 1),
                          "polygon_vertices_mean": round(float(np.mean([s["polygon_vertices"] for s in sel])), 1)})
    ours = [r["actions"] for r in rows]
    polys = [r["polygon_vertices"] for r in rows]
    summary = {"actions_total": sum(ours), "polygon_vertices_total": sum(polys),
               "ratio_polygon_over_ours": round(sum(polys) / max(1, sum(ours)), 2),
               "last_k_ratio": round(sum(polys[-args.k:]) / max(1, sum(ours[-args.k:])), 2),
               "wall_seconds": round(time.monotonic() - t_start, 1)}
    print()
    print(f"{'round':>5}{'images':>8}{'proposal wrong':>16}{'actions/img':>13}{'polygon clicks/img':>20}{'ratio':>8}")
    for r in per_round:
        ratio = r["polygon_vertices_mean"] / max(0.1, r["actions_mean"])
        print(f"{r['round']:>5}{r['images']:>8}{r['proposal_wrong_mean']:>16.3f}{r['actions_mean']:>13.1f}"
              f"{r['polygon_vertices_mean']:>20.1f}{ratio:>8.1f}")
    for r in per_round:
        if r["candidates_wrong_mean"]:
            print(f"round {r['round']} proposals, wrong share: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in r["candidates_wrong_mean"].items()))
    print(f"total actions {summary['actions_total']} vs polygon clicks {summary['polygon_vertices_total']}: "
          f"{summary['ratio_polygon_over_ours']}x fewer; last {args.k} images {summary['last_k_ratio']}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"session{('_' + args.tag) if args.tag else ''}"
    out = RESULTS / f"{stem}.json"
    config = {"images": args.images, "k": args.k, "budget": args.budget, "start": args.start, "stride": args.stride,
              "propagate": not args.no_propagate, "target": TARGET, "order": "name",
              "scribble_below": args.scribble_below}
    out.write_text(json.dumps({"config": config, "summary": summary, "rounds": per_round, "retrains": rounds,
                               "images": rows}, indent=1))
    draw_curve(RESULTS / f"{stem}.png", ours, polys, [r["after_images"] for r in rounds],
               f"CamVid-11 session: {len(rows)} frames, retrain every {args.k}")
    print(f"written {out} and {stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

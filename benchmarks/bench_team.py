"""A team labels one dataset (issue 19): two simulated annotators label 40 CamVid frames with 10 overlapping,
their copies are merged, agreement is measured, and a reviewer adjudicates, against reviewing every pixel.

Everything runs through labeltool's own engine: ``assign`` (model.project.assignment), each annotator saving
*corrected* masks in their own copy of the dataset under their name, ``merge`` (the overlap frames become
conflicts; both people's masks are kept as opinions), ``agreement`` (model.evaluation.agreement: per-class
IoU between the annotators, majority consensus), and the ``audit`` (model.evaluation.audit) by a model
trained only on other sequences (0001TP, 0006R0: never the 0016E5 frames it audits).

Annotators = ground truth + seeded, realistic mistakes (see ``NOISE``): class borders pushed a few pixels
(a class dilated into its neighbours), small objects of thin classes missed (painted as what surrounds
them), whole regions of a confusable class labelled as its twin (Sidewalk/Road, Tree/Building,
Fence/Building). Alice is careful, Bob is sloppier.

The reviewer (one action = one decision: look at a region and pick/fix, or approve an image):
- overlap frames: starts from the majority consensus; each undecided region (a connected component of
  pixels the two labelled differently) is one decision, taking the annotator whose label is right there;
- the other frames, in the audit's order (most disputed pixels first): each disputed region (>= MIN_REGION
  px) is looked at (one action) and, when the annotator's label there is wrong, the wrong areas within
  FIX_REACH px of it are fixed; each image then approved (one action). Images without disputed regions are
  approved unseen (counted: one action).
- baseline, reviewing every pixel: every region of every mask (connected components >= MIN_REGION px per
  class) looked at, every wrong area fixed, every image approved.
A fix costs what bench_session's annotator pays (``fix_actions``): a wrong region one click (fill or
superpixel), a wrong strip along a boundary one brush stroke per ~40 px of its length.

    python benchmarks/bench_team.py                   # ~5 min on 2 CPU cores (the audit model: 150 s)
    python benchmarks/bench_team.py --train-budget 60 # quicker, a weaker audit model

Skips (exit 0) without ../shared/camvid11. Writes benchmarks/results/team.json.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import CAMVID, RESULTS, VOID, write_json
from scipy import ndimage

MIN_REGION = 20  # px: smaller regions are not worth a reviewer's look (nor a fix)
FIX_REACH = 5    # px around a disputed region the reviewer fixes what is wrong
BRUSH_PX = 40    # px of strip one brush stroke fixes (bench_session's annotator)
STRIP_WIDTH = 6  # px: thinner wrong areas are strips (brush strokes), thicker ones regions (one click)
PAIRS = {"Sidewalk": "Road", "Road": "Sidewalk", "Tree": "Building", "Fence": "Building"}
THIN = ("Pole", "SignSymbol", "Pedestrian", "Bicyclist")
NOISE = {  # per annotator: border push (px, share of classes), missed thin objects, region confusions
    "alice": {"border_px": 1, "border_share": 0.3, "miss": 0.1, "confuse": 0.03},
    "bob": {"border_px": 3, "border_share": 0.5, "miss": 0.35, "confuse": 0.15},
}


def components(binary: np.ndarray, min_area: int = MIN_REGION):
    lab, n = ndimage.label(binary)
    if n == 0:
        return []
    areas = np.bincount(lab.ravel())[1:]
    return [lab == i + 1 for i in np.flatnonzero(areas >= min_area)]


def annotate(truth: np.ndarray, codes: list[str], noise: dict, rng) -> np.ndarray:
    """A person's mask of ``truth`` with the mistakes ``noise`` describes."""
    mask = truth.copy()
    index = {name: i for i, name in enumerate(codes)}
    present = [c for c in np.unique(truth) if c != VOID]
    for c in rng.permutation(present)[:int(round(noise["border_share"] * len(present)))]:
        grown = ndimage.binary_dilation(mask == c, iterations=noise["border_px"])
        mask[grown & (truth != VOID)] = c
    for name in THIN:
        for region in components(truth == index[name], 1):
            if region.sum() < 400 and rng.random() < noise["miss"]:
                ring = ndimage.binary_dilation(region, iterations=2) & ~region
                around = mask[ring]
                around = around[around != VOID]
                if around.size:
                    mask[region] = np.bincount(around).argmax()
    for name, twin in PAIRS.items():
        for region in components(truth == index[name], 200):
            if rng.random() < noise["confuse"]:
                mask[region] = index[twin]
    return mask


def wrong_areas(mask: np.ndarray, truth: np.ndarray, within: np.ndarray | None = None):
    """The wrong areas (>= MIN_REGION px) of ``mask``, each of one true class (optionally only ``within``)."""
    wrong_px = (mask != truth) & (truth != VOID)
    if within is not None:
        wrong_px &= within
    return [area for c in np.unique(truth[wrong_px]) for area in components(wrong_px & (truth == c))]


def fix_actions(area: np.ndarray) -> int:
    """What fixing a wrong area costs, as bench_session counts it: a region is one fill or superpixel click,
    a strip is one brush stroke per ~BRUSH_PX px of its skeleton; whichever is cheaper for its shape."""
    from skimage.morphology import skeletonize

    length = int(skeletonize(area).sum())
    thickness = area.sum() / max(1, length)
    return 1 if thickness >= STRIP_WIDTH else max(1, math.ceil(length / BRUSH_PX))


def wrong(mask: np.ndarray, truth: np.ndarray) -> int:
    return int(((mask != truth) & (truth != VOID)).sum())


def per_class_iou(masks, truths, codes):
    from model.evaluation.metrics import confusion_matrix, metrics_from_confusion

    cm = sum(confusion_matrix(m, t, len(codes), VOID) for m, t in zip(masks, truths, strict=True))
    return metrics_from_confusion(cm, codes, VOID)["per_class_iou"]


def train_audit_model(out_models: Path, budget: float, images: int) -> Path:
    """A model trained on other sequences only (0001TP, 0006R0), copied into ``out_models``."""
    from model.nets.config import TrainConfig
    from model.project.codes import CAMVID11_CODES, write_codes
    from model.training.train import train_dataset

    names = sorted(p.stem for p in (CAMVID / "train").glob("*.png") if not p.name.startswith("0016E5"))
    names = names[::max(1, len(names) // images)][:images]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "other-sequences"
        (root / "images").mkdir(parents=True)
        (root / "labels").mkdir()
        write_codes(root / "codes.txt", CAMVID11_CODES)
        for n in names:
            shutil.copy(CAMVID / "train" / f"{n}.png", root / "images" / f"{n}.png")
            shutil.copy(CAMVID / "trainannot" / f"{n}.png", root / "labels" / f"{n}_P.png")
        path = train_dataset(root, TrainConfig.from_dict({"time_budget": budget}))  # held out: a whole sequence
        out_models.mkdir(parents=True, exist_ok=True)
        for suffix in (".safetensors", ".json"):
            shutil.copy(path.with_suffix(suffix), out_models / path.with_suffix(suffix).name)
    return out_models / path.name


def model_vs_truth(project, names, truth, codes):
    """The audit model's per-class IoU on the 40 frames (sequence 0016E5, which it never saw)."""
    from model.images.imageio import read_raw
    from model.inference.predict import Predictor
    from model.registry.registry import active_model, load_checked_model

    predictor = Predictor(load_checked_model(project, active_model(project.models_dir), "cpu"), device="cpu")
    masks = [predictor.predict(read_raw(project.image_path(n))).mask for n in names]
    return per_class_iou(masks, [truth[n] for n in names], codes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--overlap", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-budget", type=float, default=150.0, help="seconds to train the audit model")
    parser.add_argument("--train-images", type=int, default=40)
    parser.add_argument("--tag", default="")
    parser.add_argument("--keep", type=Path, help="copy the merged, audited dataset here (for screenshots)")
    args = parser.parse_args()
    if not (CAMVID / "val").is_dir():
        print(f"skipped: {CAMVID} is not present")
        return 0
    import torch

    torch.set_num_threads(2)
    from model.evaluation.agreement import consensus, measure
    from model.evaluation.audit import audit
    from model.images.imageio import read_mask
    from model.project.assignment import plan_assignment, write_assignment
    from model.project.audit_record import read_plane
    from model.project.codes import CAMVID11_CODES, write_codes
    from model.project.merge_apply import merge
    from model.project.opinions import collect
    from model.project.project import Project

    codes = CAMVID11_CODES
    rng = np.random.default_rng(args.seed)
    names = sorted(p.stem for p in (CAMVID / "val").glob("*.png"))[::2][:args.frames]
    truth = {n: read_mask(CAMVID / "valannot" / f"{n}.png") for n in names}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "alice", Path(tmp) / "bob"
        (ours / "images").mkdir(parents=True)
        write_codes(ours / "codes.txt", codes)
        for n in names:
            shutil.copy(CAMVID / "val" / f"{n}.png", ours / "images" / f"{n}.png")
        project = Project.open(ours)
        assignment = plan_assignment(project.names(), list(NOISE), args.overlap / len(names), args.seed)
        write_assignment(project.state_dir, assignment)
        project.db.close()
        shutil.copytree(ours, theirs)
        made: dict[str, dict[str, np.ndarray]] = {}
        for who, root in (("alice", ours), ("bob", theirs)):
            os.environ["LABELTOOL_ANNOTATOR"] = who
            copy = Project.open(root)
            for n in assignment["assigned"][who]:
                made.setdefault(n, {})[who] = annotate(truth[n], codes, NOISE[who], rng)
                copy.save_mask(n, made[n][who], "corrected")
            copy.db.close()
        os.environ["LABELTOOL_ANNOTATOR"] = "rita"
        project = Project.open(ours)
        plan = merge(project, theirs)
        collect(project)
        report = measure(project)
        overlap = list(assignment["overlap"])
        # ---- the annotators against the truth (known here), per class
        truth_iou = {who: per_class_iou([made[n][who] for n in names if who in made[n]],
                                        [truth[n] for n in names if who in made[n]], codes) for who in NOISE}
        # ---- adjudicating the overlap from the majority consensus
        review = {"overlap_actions": 0, "overlap_wrong_before": 0, "overlap_wrong_after": 0}
        final: dict[str, np.ndarray] = {}
        for n in overlap:
            mask, undecided, masks = consensus(project, n, "majority")
            review["overlap_wrong_before"] += wrong(project.load_mask(n), truth[n])  # the merged dataset's mask
            lab, count = ndimage.label(undecided)
            mask = mask.copy()
            for i in range(1, count + 1):
                region = lab == i
                if region.sum() < MIN_REGION:
                    continue  # too small to look at: stays as the consensus holds it
                review["overlap_actions"] += 1
                best = max(masks.values(), key=lambda m, r=region, t=truth[n]: int((m[r] == t[r]).sum()))
                mask[region] = best[region]
            review["overlap_actions"] += 1  # approve
            final[n] = mask
            review["overlap_wrong_after"] += wrong(mask, truth[n])
        # ---- the others, in the audit's order
        t_train = time.monotonic()
        train_audit_model(project.models_dir, args.train_budget, args.train_images)
        train_seconds = time.monotonic() - t_train
        single = [n for n in names if n not in overlap]
        run = audit(project, single)
        model_iou = model_vs_truth(project, names, truth, codes)
        ranked = run.ranked()
        targeted = {"actions": 0, "regions_looked": 0, "fixed": 0, "wrong_before": 0, "wrong_after": 0}
        for n in ranked:
            mask = project.load_mask(n).copy()
            targeted["wrong_before"] += wrong(mask, truth[n])
            plane = read_plane(project, n)
            for region in components(plane):
                targeted["regions_looked"] += 1
                targeted["actions"] += 1
                if (mask[region] != truth[n][region]).mean() > 0.5:  # really wrong: the reviewer fixes it
                    near = ndimage.binary_dilation(region, iterations=FIX_REACH)
                    for area in wrong_areas(mask, truth[n], near):
                        mask[area] = truth[n][area]
                        targeted["actions"] += fix_actions(area)
                    targeted["fixed"] += 1
            targeted["actions"] += 1  # approve
            targeted["wrong_after"] += wrong(mask, truth[n])
        # ---- baseline: every region of every mask
        full = {"actions": 0, "wrong_before": 0, "wrong_after": 0}
        for n in names:  # the merged dataset as it stands (labels/), every frame
            mask = project.load_mask(n).copy()
            full["wrong_before"] += wrong(mask, truth[n])
            for c in np.unique(mask):
                full["actions"] += len(components(mask == c))
            for area in wrong_areas(mask, truth[n]):
                mask[area] = truth[n][area]
                full["actions"] += fix_actions(area)
            full["actions"] += 1
            full["wrong_after"] += wrong(mask, truth[n])
        if args.keep is not None:
            project.db.close()
            shutil.copytree(ours, args.keep, dirs_exist_ok=True)
        scored = sum(int((truth[n] != VOID).sum()) for n in names)
        single_scored = sum(int((truth[n] != VOID).sum()) for n in single)
    rows = [(name, report.per_class_iou.get(name), truth_iou["alice"].get(name), truth_iou["bob"].get(name),
             model_iou.get(name)) for name in codes if name != "Void"]
    print(f"\n{len(names)} frames (CamVid val, 0016E5), {len(overlap)} labelled by both; merge: "
          f"{plan.counts()}; {time.monotonic() - t0:.0f} s")
    print(f"{'class':<12}{'IoU alice|bob':>15}{'alice vs truth':>16}{'bob vs truth':>14}{'model vs truth':>16}")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for name, agree, a, b, m in rows:
        print(f"{name:<12}{fmt(agree):>15}{fmt(a):>16}{fmt(b):>14}{fmt(m):>16}")
    print(f"{'mean':<12}{fmt(report.miou):>15}   reliability (STAPLE): {report.reliability}")
    print(f"\noverlap ({len(overlap)} frames): wrong pixels of the merged mask {review['overlap_wrong_before']}"
          f" -> {review['overlap_wrong_after']} after adjudicating from the consensus, {review['overlap_actions']}"
          " reviewer actions")
    print(f"others ({len(single)} frames), audit order: wrong {targeted['wrong_before']} "
          f"({targeted['wrong_before'] / single_scored:.2%}) -> {targeted['wrong_after']} "
          f"({targeted['wrong_after'] / single_scored:.2%}), {targeted['actions']} actions "
          f"({targeted['regions_looked']} disputed regions looked at, {targeted['fixed']} fixed); "
          f"{len(run.no_model)} not audited; audit model trained {train_seconds:.0f} s on other sequences")
    total_targeted = review["overlap_actions"] + targeted["actions"]
    caught_targeted = (review["overlap_wrong_before"] - review["overlap_wrong_after"]
                       + targeted["wrong_before"] - targeted["wrong_after"])
    caught_full = full["wrong_before"] - full["wrong_after"]
    print(f"\n{'review':<28}{'actions':>9}{'wrong before':>14}{'wrong after':>13}{'px fixed / action':>19}")
    print(f"{'targeted (consensus+audit)':<28}{total_targeted:>9}{review['overlap_wrong_before'] + targeted['wrong_before']:>14}"
          f"{review['overlap_wrong_after'] + targeted['wrong_after']:>13}{caught_targeted / max(1, total_targeted):>19.0f}")
    print(f"{'every pixel (baseline)':<28}{full['actions']:>9}{full['wrong_before']:>14}{full['wrong_after']:>13}"
          f"{caught_full / max(1, full['actions']):>19.0f}")
    out = RESULTS / f"team{('_' + args.tag) if args.tag else ''}.json"
    write_json(out, {"config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "noise": NOISE, "min_region": MIN_REGION, "frames_from": "val 0016E5, every 2nd"},
                     "merge": plan.counts(), "agreement": report.public(), "truth_iou": truth_iou, "model_iou": model_iou,
                     "overlap_review": review, "targeted_review": targeted, "full_review": full,
                     "scored_pixels": scored, "audit_no_model": run.no_model, "audit_ranked": ranked,
                     "audit_train_seconds": round(train_seconds, 1), "wall_seconds": round(time.monotonic() - t0, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())

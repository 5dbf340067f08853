"""What the one-click retrain buys, measured honestly: 25 corrected CamVid frames, default `labeltool train`, then
the share of non-Void pixels of the 101 `val` frames that are still wrong (lower is better), in two protocols:

- ``mixed``: the 25 frames are spread over all three training sequences (0001TP, 0006R0, 0016E5). `val` is
  more frames of 0016E5, a sequence the model trained on: the optimistic figure earlier rounds reported.
- ``heldout``: the 25 frames come from 0001TP and 0006R0 only; `val` (0016E5) is a sequence the model never
  saw: the figure a user labelling a new video should expect.

``--unlabelled`` adds images without masks to the bench project (status "none"), as a real project holds them:
``labelled`` the other training frames of the labelled sequences, ``eval`` the 101 `val` frames themselves
(transductive: in the app the unlabelled images ARE the frames the model will propose for; their ground truth is
never given to the training, only used to score the pseudo-labels afterwards), ``both``. They matter only to a
run with ``{"pseudo_labels": "confident"}`` (model.training.semisup). ``--tta`` scores the same trained model a second
time with the horizontally flipped prediction averaged in (``labeltool predict --tta``).

Each row also gives the engine's own validation figure (its automatic hold-out, written in the model card and
shown in the Models panel), so the honesty of that figure can be judged against the held-out sequence. Next to
it, optionally, a plain smp U-Net (ResNet34, from scratch, eager fp32, full resolution, constant-LR Adam)
trained for the same wall time on the mixed frames.

    nice -n 10 python benchmarks/bench_retrain_default.py              # both protocols (~10 min on 2 cores)
    python benchmarks/bench_retrain_default.py --protocol heldout --budget 60 --no-baseline --tag quick
    python benchmarks/bench_retrain_default.py --protocol heldout --no-baseline --unlabelled both \
        --config '{"pseudo_labels": "confident"}' --tta --save-model /tmp/models/x --tag pseudo

``--seeds N`` (default 3) repeats each setting with TrainConfig.seed 0..N-1 and reports the mean and spread (runs of
one setting differ by ~5 points); ``--propagate 0,1,2`` compares TrainConfig.propagated_neighbours settings (corrected
masks warped onto unlabelled neighbouring frames, model.training.propagated; the other frames of the labelled
sequences are then in every setting's project, unlabelled):

    nice -n 10 python benchmarks/bench_retrain_default.py --protocol heldout --no-baseline --seeds 3 \
        --propagate 0,1,2 --tag propagate          # 9 runs, ~45 min on a quiet 2-core machine
    python benchmarks/bench_retrain_default.py --protocol heldout --no-baseline --seeds 1 --propagate 0,1 \
        --frames 6 --budget 45 --val-frames 10 --tag smoke   # smoke: the script works, no figure

Skips cleanly (exit 0) when ../shared/camvid11 (or $LABELTOOL_CAMVID) is absent. Results: benchmarks/results/retrain_default*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CAMVID = Path(os.environ.get("LABELTOOL_CAMVID") or REPO.parent / "shared" / "camvid11")  # env: from a worktree
RESULTS = REPO / "benchmarks" / "results"
VOID = 11


PROTOCOLS = {"mixed": None, "heldout": ("0001TP", "0006R0")}  # training sequences; val is 0016E5
VAL_SEQUENCE = "0016E5"


def pick_frames(count: int = 25, sequences: tuple[str, ...] | None = None) -> list[str]:
    """``count`` training frames spread over the sequences (in proportion to their length, evenly in each)."""
    names = sorted(p.name for p in (CAMVID / "train").glob("*.png")
                   if sequences is None or p.name.split("_")[0] in sequences)
    seqs: dict[str, list[str]] = {}
    for n in names:
        seqs.setdefault(n.split("_")[0], []).append(n)
    shares = {k: max(1, round(count * len(v) / len(names))) for k, v in seqs.items()}
    while sum(shares.values()) > count:
        shares[max(shares, key=shares.get)] -= 1
    while sum(shares.values()) < count:
        shares[max(seqs, key=lambda k: len(seqs[k]) / shares[k])] += 1
    picked = []
    for k, v in seqs.items():
        idx = np.linspace(0, len(v) - 1, shares[k]).round().astype(int)
        picked += [v[i] for i in idx]
    return picked


def unlabelled_frames(kind: str, frames: list[str], sequences: tuple[str, ...] | None) -> list[Path]:
    """Image files to add without masks: ``labelled`` = the other training frames of the labelled sequences,
    ``eval`` = the `val` frames (the evaluated sequence), ``both``, ``none``."""
    out: list[Path] = []
    if kind in ("labelled", "both"):
        out += [p for p in sorted((CAMVID / "train").glob("*.png")) if p.name not in frames
                and (sequences is None or p.name.split("_")[0] in sequences)]
    if kind in ("eval", "both"):
        out += sorted((CAMVID / "val").glob("*.png"))
    return out


def make_dataset(root: Path, frames: list[str], unlabelled: list[Path] = ()) -> Path:
    from model.project.codes import CAMVID11_CODES

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "codes.txt").write_text("\n".join(CAMVID11_CODES) + "\n")
    for name in frames:
        shutil.copy(CAMVID / "train" / name, root / "images" / name)
        shutil.copy(CAMVID / "trainannot" / name, root / "labels" / (Path(name).stem + "_P.png"))
    for path in unlabelled:  # no mask: status "none", as the frames of a video nobody has labelled yet
        shutil.copy(path, root / "images" / path.name)
    return root


def truth_of(name: str) -> np.ndarray:
    from model.images.imageio import read_mask

    for split in ("train", "val"):
        path = CAMVID / f"{split}annot" / f"{Path(name).stem}.png"
        if path.is_file():
            return read_mask(path)
    raise FileNotFoundError(name)


def watch_pseudo_labels(record: list[dict]):
    """Wrap model.training.semisup.pseudo_label so each pseudo-labelled image is scored against its ground truth
    (never seen by the training): share of its non-Void pixels kept, and share of those kept that are right."""
    from PIL import Image

    import model.training.semisup as semisup

    original = semisup.pseudo_label

    def watched(*args, **kwargs):
        labels = original(*args, **kwargs)
        for name, mask in zip(labels.names, labels.masks, strict=True):
            gt = np.asarray(Image.fromarray(truth_of(name)).resize(mask.shape[::-1], Image.NEAREST))
            scored = gt != VOID
            kept = scored & (mask != VOID)
            record.append({"name": name, "sequence": name.split("_")[0], "non_void": int(scored.sum()),
                           "kept": int(kept.sum()), "right": int((mask[kept] == gt[kept]).sum())})
        return labels

    semisup.pseudo_label = watched
    return original


def pseudo_quality(record: list[dict]) -> dict:
    out = {}
    for seq in sorted({r["sequence"] for r in record}) + ["all"]:
        rows = [r for r in record if seq in ("all", r["sequence"])]
        non_void, kept, right = (sum(r[k] for r in rows) for k in ("non_void", "kept", "right"))
        out[seq] = {"images": len(rows), "kept_share": kept / max(1, non_void), "kept_right": right / max(1, kept)}
    return out


def load_pairs(split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    from model.images.imageio import read_image, read_mask

    return [(read_image(p), read_mask(CAMVID / f"{split}annot" / p.name)) for p in sorted((CAMVID / split).glob("*.png"))]


@torch.no_grad()
def wrong_share(net, pairs, scale: float, mean, std, tta: bool = False) -> dict:
    """Scores on ``pairs``; ``tta``: softmax averaged with the mirrored image's (mirrored back), as
    Predictor(tta_flip=True) does."""
    from model.evaluation.metrics import ConfusionAccumulator, metrics_from_confusion
    from model.training.trainutil import predict_logits

    net.eval()
    acc = ConfusionAccumulator(12, VOID)
    t = time.perf_counter()
    for image, mask in pairs:
        x = (torch.from_numpy(image).permute(2, 0, 1).float() / 255 - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
        scores = predict_logits(net, x, scale).softmax(1)
        if tta:
            scores = scores + predict_logits(net, x.flip(-1), scale).softmax(1).flip(-1)
        acc.update(scores.argmax(1)[0].numpy(), mask)
    m = metrics_from_confusion(acc.matrix, [str(i) for i in range(12)], VOID)
    return {"wrong_non_void": 1 - m["pixel_accuracy"], "miou": m["miou"],
            "seconds_per_image": (time.perf_counter() - t) / max(1, len(pairs))}


def train_baseline(train_pairs, seconds: float) -> tuple[torch.nn.Module, int]:
    """Plain loop: smp U-Net ResNet34 from scratch, eager fp32, full-resolution frames padded to 384,
    Adam 1e-3, batch 4, cross-entropy ignoring Void, no augmentation."""
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    net = smp.Unet("resnet34", encoder_weights=None, classes=12)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    xs = torch.stack([torch.from_numpy(i).permute(2, 0, 1) for i, _ in train_pairs]).float() / 255
    xs = F.pad((xs - mean) / std, (0, 0, 0, 24))
    ys = F.pad(torch.stack([torch.from_numpy(m).long() for _, m in train_pairs]), (0, 0, 0, 24), value=VOID)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=VOID)
    start, steps = time.monotonic(), 0
    net.train()
    while time.monotonic() - start < seconds:
        for idx in torch.randperm(len(xs)).split(4):
            if time.monotonic() - start >= seconds:
                break
            loss = loss_fn(net(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
    return net, steps


def run_protocol(protocol: str, cfg, val, unlabelled: str = "none", tta: bool = False,
                 save_model: Path | None = None, count: int = 25) -> dict:
    from model.registry.modelfile import load_model
    from model.training.train import train_dataset

    frames = pick_frames(count, sequences=PROTOCOLS[protocol])
    extra_images = unlabelled_frames(unlabelled, frames, PROTOCOLS[protocol])
    record: list[dict] = []
    original = watch_pseudo_labels(record)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = make_dataset(Path(tmp) / "ds", frames, extra_images)
            events = []
            t = time.monotonic()
            path = train_dataset(root, cfg, on_event=lambda e: events.append(e) if e["event"] != "step" else None)
            wall = time.monotonic() - t
            loaded = load_model(path)
            card = loaded.card
            if save_model is not None:  # the model file and what sits beside it (ONNX, runtime.json)
                save_model.mkdir(parents=True, exist_ok=True)
                for f in path.parent.iterdir():
                    if f.is_file() and (f.name.startswith(path.stem) or f.name == "runtime.json"):
                        shutil.copy2(f, save_model / f.name)
            # load_model wraps a model trained at input_scale != 1 so it takes full-size images, as the app's
            # predictor calls it: scale 1 here.
            mean, std = card["normalization"]["mean"], card["normalization"]["std"]
            ours = wrong_share(loaded.net, val, 1.0, mean, std)
            flipped = wrong_share(loaded.net, val, 1.0, mean, std, tta=True) if tta else None
    finally:
        import model.training.semisup as semisup

        semisup.pseudo_label = original
    start = next(e for e in events if e["event"] == "start")
    validation = card.get("validation") or {}
    own = validation.get("metrics") or {}
    own_acc = own.get("pixel_accuracy")
    return {"protocol": protocol, "frames": frames, "train_sequences": sorted({f.split("_")[0] for f in frames}),
            "val_sequence_seen_in_training": any(f.startswith(VAL_SEQUENCE) for f in card["training_images"]),
            "train_seconds": round(wall, 1), "epochs": card["training"]["epochs"],
            "steps": card["training"]["epochs"] * start["steps_per_epoch"], "trained_on": len(card["training_images"]),
            "arch": card["arch"], "encoder": card["encoder"], "scale": card["input_scale"], "crop": card["input_size"],
            "batch": start["batch_size"], **ours, "tta": flipped,
            "unlabelled": {"kind": unlabelled, "images": len(extra_images),
                           "sequences": sorted({p.name.split("_")[0] for p in extra_images})},
            "pseudo_labels": card["training"].get("pseudo_labels"),
            "propagated": {k: v for k, v in (card["training"].get("propagated") or {}).items() if k != "used"} or None,
            "pseudo_label_quality": pseudo_quality(record) if record else None,
            "engine_validation": {"source": validation.get("source"), "images": validation.get("images"),
                                  "wrong_non_void": None if own_acc is None else 1 - own_acc, "miou": own.get("miou")},
            "epoch_end_seconds": [e["seconds"] for e in events if e["event"] == "epoch_end"],
            "notices": [e["message"] for e in events if e["event"] == "notice"]}


def spread_of(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
            "min": float(arr.min()), "max": float(arr.max()), "n": len(arr)}


def summarise(rows: list[dict]) -> dict:
    """Mean and spread over seeds of one setting and protocol."""
    return {"wrong_non_void": spread_of([r["wrong_non_void"] for r in rows]), "miou": spread_of([r["miou"] for r in rows]),
            "train_seconds": spread_of([r["train_seconds"] for r in rows]),
            "propagated_pairs": spread_of([(r["propagated"] or {}).get("pairs", 0) for r in rows])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, help="time budget override (default: the one-click default)")
    parser.add_argument("--config", default="{}", help="JSON TrainConfig overrides for a variant")
    parser.add_argument("--protocol", choices=[*PROTOCOLS, "both"], default="both")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--tag", default="", help="suffix for the results file")
    parser.add_argument("--unlabelled", choices=("none", "labelled", "eval", "both"), default="none",
                        help="images without masks in the project: other frames of the labelled sequences, "
                             "the evaluated val frames (transductive; labels never used), both")
    parser.add_argument("--tta", action="store_true", help="also score the same model with flip TTA")
    parser.add_argument("--save-model", type=Path, help="copy the trained model (and its ONNX etc.) here")
    parser.add_argument("--seeds", type=int, default=3, help="runs per setting (TrainConfig.seed 0..N-1); the rows "
                                                             "give mean and spread (runs differ by ~5 points)")
    parser.add_argument("--propagate", default=None,
                        help="comma-separated TrainConfig.propagated_neighbours settings to compare, e.g. 0,1,2 "
                             "(model.training.propagated); any K > 0 adds the labelled sequences' other frames "
                             "unlabelled (--unlabelled labelled) to every setting's project, as their neighbours")
    parser.add_argument("--frames", type=int, default=25, help="corrected frames (25: the benchmark; fewer: smoke)")
    parser.add_argument("--val-frames", type=int, default=0, help="score only every n-th val frame to this many "
                                                                  "(0: all 101; a smoke run only)")
    args = parser.parse_args()
    if not (CAMVID / "train").is_dir():
        print(f"skipped: {CAMVID} is not present")
        return 0
    torch.set_num_threads(2)
    from model.nets.config import TrainConfig

    base_overrides = json.loads(args.config)
    if args.budget:
        base_overrides["time_budget"] = args.budget
    settings = [None] if args.propagate is None else [int(k) for k in args.propagate.split(",")]
    unlabelled = args.unlabelled
    if any(settings) and unlabelled == "none":
        unlabelled = "labelled"  # the neighbours must be in the project, as a video's unlabelled frames are
    protocols = list(PROTOCOLS) if args.protocol == "both" else [args.protocol]
    val = load_pairs("val")
    if args.val_frames:
        val = [val[i] for i in np.linspace(0, len(val) - 1, min(args.val_frames, len(val))).round().astype(int)]
    result: dict = {"variant": base_overrides or "defaults", "val": f"{len(val)} frames of {VAL_SEQUENCE}",
                    "seeds": args.seeds, "frames": args.frames, "unlabelled": unlabelled, "settings": {}, "runs": {}}
    print(f"{'setting':<13}{'seed':>4} {'protocol':<9}{'train seqs':<16}{'trained':>8}{'+prop':>6}{'train s':>9}"
          f"{'steps':>7}{'wrong val':>11}{'mIoU':>7}  engine's own figure (wrong, images)")
    for k in settings:
        label = "defaults" if k is None else f"propagate={k}"
        per_protocol: dict[str, list[dict]] = {p: [] for p in protocols}
        for seed in range(args.seeds):
            overrides = dict(base_overrides)
            if k is not None:
                overrides["propagated_neighbours"] = k
            if seed:
                overrides["seed"] = seed
            for protocol in protocols:
                cfg = TrainConfig.from_dict(dict(overrides)) if overrides else None
                save = args.save_model / label / f"seed{seed}" / protocol if args.save_model else None
                row = run_protocol(protocol, cfg, val, unlabelled, args.tta, save, args.frames)
                row["seed"] = seed
                per_protocol[protocol].append(row)
                result["runs"].setdefault(protocol, row)
                own = row["engine_validation"]
                own_text = ("not validated" if own["wrong_non_void"] is None else
                            f"{own['wrong_non_void']:.3f} on {len(own['images'])} ({own['source']})")
                print(f"{label:<13}{seed:>4} {protocol:<9}{'+'.join(row['train_sequences']):<16}{row['trained_on']:>8}"
                      f"{(row['propagated'] or {}).get('pairs', 0):>6}{row['train_seconds']:>9.0f}{row['steps']:>7}"
                      f"{row['wrong_non_void']:>11.3f}{row['miou']:>7.3f}  {own_text}", flush=True)
                if row["tta"]:
                    print(f"{'  + flip TTA (same model)':<64}{row['tta']['wrong_non_void']:>11.3f}"
                          f"{row['tta']['miou']:>7.3f}  {row['tta']['seconds_per_image']:.2f} s/image vs "
                          f"{row['seconds_per_image']:.2f}")
                if row["pseudo_labels"]:
                    print(f"  pseudo-labels: {row['pseudo_labels']}")
                    for seq, q in (row["pseudo_label_quality"] or {}).items():
                        print(f"    {seq:<8} {q['images']:>4} images, {100 * q['kept_share']:.0f} % of non-Void "
                              f"pixels kept, {100 * q['kept_right']:.1f} % of those right")
        result["settings"][label] = {p: {"summary": summarise(rows), "runs": rows} for p, rows in per_protocol.items()}
    print(f"\n{'setting':<13}{'protocol':<9}{'seeds':>6}{'wrong val mean':>16}{'spread (min..max)':>20}"
          f"{'mIoU mean':>11}{'spread':>16}{'train s max':>12}")
    for label, by_protocol in result["settings"].items():
        for protocol, entry in by_protocol.items():
            w, m, t = (entry["summary"][key] for key in ("wrong_non_void", "miou", "train_seconds"))
            print(f"{label:<13}{protocol:<9}{w['n']:>6}{w['mean']:>10.3f} ±{w['std']:.3f}"
                  f"{w['min']:>10.3f}..{w['max']:.3f}{m['mean']:>11.3f}{m['min']:>10.3f}..{m['max']:.3f}"
                  f"{t['max']:>12.0f}")
    first = next(iter(result["settings"].values()))
    if not args.no_baseline:
        from model.images.imageio import read_image, read_mask

        frames = pick_frames(args.frames)
        wall = first.get("mixed", next(iter(first.values())))["summary"]["train_seconds"]["mean"]
        train_pairs = [(read_image(CAMVID / "train" / n), read_mask(CAMVID / "trainannot" / n)) for n in frames]
        net, steps = train_baseline(train_pairs, wall)
        base = wrong_share(net, val, 1.0, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        result["baseline"] = {"protocol": "mixed", "train_seconds": round(wall, 1), "steps": steps, **base}
        if "mixed" in first:
            mixed_mean = first["mixed"]["summary"]["wrong_non_void"]["mean"]
            result["ratio_wrong_engine_over_baseline"] = mixed_mean / base["wrong_non_void"]
        print(f"{'baseline':<9}{'all (plain U-Net R34 fp32, same time)':<40}{base['wrong_non_void']:>11.3f}"
              f"{base['miou']:>7.3f}")
        if "ratio_wrong_engine_over_baseline" in result:
            print(f"ratio wrong pixels engine/baseline (mixed): {result['ratio_wrong_engine_over_baseline']:.2f}")
    if len(first) == 2:
        result["ratio_wrong_heldout_over_mixed"] = (first["heldout"]["summary"]["wrong_non_void"]["mean"]
                                                    / first["mixed"]["summary"]["wrong_non_void"]["mean"])
        print(f"ratio wrong pixels held-out sequence / seen sequence: {result['ratio_wrong_heldout_over_mixed']:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"retrain_default{('_' + args.tag) if args.tag else ''}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CamVid-11 recipe from scratch: train on train (367), report val (101) mIoU and accuracy.

No pretrained weights (encoder from random init), the engine's training loop with one-cycle schedule,
ce+dice loss and augmentation; the time budget bounds the run. Prints a table and writes
benchmarks/results/camvid_recipe[-TAG].json with the hardware and the time it took.

    python benchmarks/bench_camvid_recipe.py --minutes 20            # CPU here
    python benchmarks/bench_camvid_recipe.py --minutes 60 --scale 1  # on a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from _common import CAMVID, RESULTS, write_json

from model.datasets import import_dataset
from model.evaluation.evaluate import evaluate_project
from model.nets.config import TrainConfig
from model.project.project import Project
from model.training.train import train_dataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--encoder", default="resnet34")
    parser.add_argument("--arch", default="Unet")
    parser.add_argument("--scale", type=float, default=None, help="input scale (default: engine's choice)")
    parser.add_argument("--size", type=int, nargs="+", default=None, help="training crop H W")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--tag", default="")
    parser.add_argument("--data", type=Path, default=CAMVID)
    args = parser.parse_args()
    if not (args.data / "train").is_dir():
        print(f"skipped: {args.data} not found")
        return 0
    work = Path(tempfile.mkdtemp(prefix="camvid-recipe-"))
    dataset = work / "camvid"
    import_dataset(args.data, dataset)
    cfg = TrainConfig(arch=args.arch, encoder=args.encoder, encoder_weights=None, init="fresh", resume=False,
                      time_budget=args.minutes * 60, scale=args.scale, size=args.size, batch_size=args.batch_size,
                      lr=args.lr)
    last: dict = {}

    def on_event(event: dict) -> None:
        if event["event"] in ("epoch_end", "notice", "start", "done"):
            last.update(event)
            print(json.dumps({k: v for k, v in event.items() if k != "lrs"}), flush=True)

    t0 = time.monotonic()
    model = train_dataset(dataset, cfg, on_event=on_event)
    train_s = time.monotonic() - t0
    result = evaluate_project(Project.open(dataset), "valid", model, save=False)
    card = json.loads(Path(model).with_suffix(".json").read_text())
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    report = {
        "recipe": {"arch": args.arch, "encoder": args.encoder, "pretrained": False, "scale": card.get("input_scale"),
                   "epochs": last.get("epochs"), "minutes_budget": args.minutes},
        "hardware": device, "train_seconds": round(train_s, 1),
        "val_pixel_accuracy": result["pixel_accuracy"], "val_miou": result["miou"],
        "val_per_class_iou": result["per_class_iou"], "val_images": result.get("images"),
    }
    print(f"\nCamVid-11 from scratch, {args.arch}/{args.encoder}, {device}, {train_s / 60:.1f} min training")
    print(f"{'class':<12} {'IoU':>6}")
    for name, iou in result["per_class_iou"].items():
        print(f"{name:<12} {'-' if iou is None else f'{iou:6.1%}':>6}")
    print(f"{'mIoU':<12} {result['miou']:6.1%}\n{'accuracy':<12} {result['pixel_accuracy']:6.1%}")
    write_json(RESULTS / f"camvid_recipe{'-' + args.tag if args.tag else ''}.json", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""labeltool evaluate DATASET: score a model on the corrected masks of the valid (or test) split.

Prints per-class IoU, mIoU and pixel accuracy (Void not scored), saves ROOT/models/eval-SPLIT.json
and the confusion matrix as ROOT/models/eval-SPLIT-confusion.png. With --json, stdout is exactly one
JSON object (pixel_accuracy, miou, per_class_iou, confusion, ...).
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score the model on the valid/test split's corrected masks",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder (CamVid/fastai layout)")
    parser.add_argument("--split", choices=("valid", "test"), default="valid",
                        help="valid: names in valid.txt (default); test: names in test.txt")
    parser.add_argument("--model", metavar="PATH", help="model file (default: the newest in DATASET/models)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    parser.add_argument("--tta", action="store_true", help="average with the horizontally flipped prediction")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.evaluation.evaluate import evaluate_project, format_table
    from model.project.project import Project

    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(max(1, args.threads))
    project = Project.open(args.dataset)

    def progress(done: int, total: int, name: str) -> None:
        if not args.json:
            print(f"\r[{done}/{total}] {name}", end="", file=sys.stderr, flush=True)

    result = evaluate_project(project, args.split, args.model, device=getattr(args, "device", None),
                              tta_flip=args.tta, batch_size=args.batch_size, on_progress=progress)
    if args.json:
        sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
        sys.stdout.flush()
        return 0
    print(file=sys.stderr)
    print(f"{result['model']} on the {args.split} split ({result['num_images']} images with corrected masks)")
    print(format_table(result))
    print(f"saved {result['json_path']}")
    print(f"saved {result['confusion_png']}")
    return 0

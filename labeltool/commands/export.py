"""labeltool export SRC DST --format fastai|cvat-camvid: write a dataset other tools train on or import."""

from __future__ import annotations

from model.datasets.export_cvat import export_cvat
from model.datasets.export_fastai import export_fastai

EXPORTERS = {"fastai": export_fastai, "cvat-camvid": export_cvat}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a dataset for fastai/smp or CVAT (CamVid 1.0)",
        description="Export the dataset SRC to a new folder DST. fastai: images/, labels/NAME_P.png, codes.txt, "
                    "valid.txt (test images go to test/). cvat-camvid: label_colors.txt, <subset>/, "
                    "<subset>annot/ colour masks and <subset>.txt lists, as CVAT's 'CamVid 1.0' import reads them.")
    parser.add_argument("src", help="the dataset folder (native layout)")
    parser.add_argument("dst", help="the folder to create (must not exist or be empty, unless --force)")
    parser.add_argument("--format", required=True, choices=sorted(EXPORTERS), help="the layout to write")
    parser.add_argument("--only-corrected", action="store_true",
                        help="export only images whose mask a person made or corrected (not bare proposals)")
    parser.add_argument("--force", action="store_true", help="replace DST when it exists and is not empty")
    parser.set_defaults(func=run)


def run(args) -> int:
    counts = EXPORTERS[args.format](args.src, args.dst, only_corrected=args.only_corrected, force=args.force,
                                    log=print)
    total = counts["train"] + counts["valid"] + counts["test"]
    print(f"exported {total} images (train {counts['train']}, valid {counts['valid']}, test {counts['test']}) "
          f"as {args.format} -> {args.dst}")
    if counts.get("unlabelled"):
        print(f"{counts['unlabelled']} of them have no mask yet (listed without one)")
    if counts.get("skipped"):
        reason = "not marked corrected or without a mask" if args.only_corrected else "without a mask"
        print(f"left out {counts['skipped']} images {reason}")
    return 0

"""labeltool export SRC DST --format fastai|cvat-camvid|voc|coco: write a dataset other tools train on or import."""

from __future__ import annotations

import argparse
import sys

from model.datasets.export_coco import export_coco
from model.datasets.export_cvat import export_cvat
from model.datasets.export_fastai import export_fastai
from model.datasets.export_voc import export_voc
from model.datasets.unchecked import UNCHECKED_FILE, left_out_text

EXPORTERS = {"fastai": export_fastai, "cvat-camvid": export_cvat, "voc": export_voc, "coco": export_coco}


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a dataset for fastai/smp, CVAT (CamVid 1.0), Pascal VOC or COCO",
        description="Export the dataset SRC to a new folder DST. fastai: images/, labels/NAME_P.png, codes.txt, "
                    "valid.txt (test images go to test/). cvat-camvid: label_colors.txt, <subset>/, "
                    "<subset>annot/ colour masks and <subset>.txt lists, as CVAT's 'CamVid 1.0' import reads them. "
                    "voc: VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, ImageSets/Segmentation} as torchvision's "
                    "VOCSegmentation reads it (Void = 255). coco: annotations/instances_<split>.json with RLE "
                    "masks and images/<split>/. Only corrected masks (checked by a person) are exported unless "
                    "--include-proposals is given.")
    parser.add_argument("src", help="the dataset folder (native layout)")
    parser.add_argument("dst", help="the folder to create (must not exist or be empty, unless --force)")
    parser.add_argument("--format", required=True, choices=sorted(EXPORTERS), help="the layout to write")
    parser.add_argument("--include-proposals", action="store_true",
                        help="also export masks nobody checked (proposed, edited, unknown), marked as such "
                             f"({UNCHECKED_FILE}; COCO: \"unchecked\": true) so `labeltool import` brings them "
                             "back as proposals; by default only corrected masks are exported")
    parser.add_argument("--only-corrected", action="store_true", help=argparse.SUPPRESS)  # the default now
    parser.add_argument("--force", action="store_true", help="replace DST when it exists and is not empty")
    parser.add_argument("--lossless", action="store_true",
                        help="voc: keep PNG images as PNG (default: saved as JPEG, quality 95, which VOC readers "
                             "such as torchvision expect)")
    parser.add_argument("--instances", metavar="CLASSES",
                        help="coco: classes exported as one annotation per object (connected region), comma "
                             "separated, or 'all'; the others get one mask per image")
    parser.add_argument("--crowd", metavar="CLASSES",
                        help="coco: semantic classes whose per-image mask is marked iscrowd=1")
    parser.set_defaults(func=run)


def run(args) -> int:
    options = {}
    if args.format == "voc":
        options["lossless"] = args.lossless
    elif args.lossless:
        print("labeltool export: --lossless applies to --format voc only", file=sys.stderr)
        return 2
    if args.format == "coco":
        options.update(instances=_names(args.instances), crowd=_names(args.crowd))
    elif args.instances or args.crowd:
        print("labeltool export: --instances and --crowd apply to --format coco only", file=sys.stderr)
        return 2
    if args.include_proposals and args.only_corrected:
        print("labeltool export: --only-corrected (the default) and --include-proposals contradict each other",
              file=sys.stderr)
        return 2
    counts = EXPORTERS[args.format](args.src, args.dst, include_proposals=args.include_proposals, force=args.force,
                                    log=print, **options)
    total = counts["train"] + counts["valid"] + counts["test"]
    print(f"exported {total} images (train {counts['train']}, valid {counts['valid']}, test {counts['test']}) "
          f"as {args.format} -> {args.dst}")
    if counts.get("unlabelled"):
        print(f"{counts['unlabelled']} of them have no mask yet (listed without one)")
    if counts.get("converted"):
        print(f"{counts['converted']} images were saved as JPEG (quality 95) for VOC readers; masks are exact "
              "(--lossless keeps them as they are)")
    if counts.get("kept_format"):
        print(f"warning: {counts['kept_format']} images are not JPEG; torchvision's VOCSegmentation opens "
              "JPEGImages/NAME.jpg only", file=sys.stderr)
    if "annotations" in counts:
        print(f"{counts['annotations']} annotations")
    if counts.get("skipped"):
        why = "without a mask" if args.include_proposals else "without a corrected mask"
        print(f"left out {counts['skipped']} images {why} ({left_out_text(counts['left_out'])})"
              + ("" if args.include_proposals else "; --include-proposals exports the unchecked ones, marked"))
    if counts.get("unchecked"):
        where = "\"unchecked\": true in the annotation files" if args.format == "coco" else UNCHECKED_FILE
        print(f"{counts['unchecked']} masks nobody checked are marked ({where}); `labeltool import` brings them "
              "back as proposals, never as corrections")
    return 0

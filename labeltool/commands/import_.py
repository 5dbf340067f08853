"""labeltool import SRC DST: bring a dataset in any known layout into the native (fastai CamVid) layout."""

from __future__ import annotations

import sys

from model.datasets import FORMATS, import_dataset


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import", help="import a dataset (SegNet CamVid, CVAT CamVid 1.0, colour masks, fastai, Pascal VOC, COCO) into DST",
        description="Import SRC into a new dataset folder DST in the native layout (images/, labels/NAME_P.png, "
                    "codes.txt, valid.txt). The layout is detected unless --format is given. DST is written "
                    "beside itself and moved into place at the end; on any error it is left as it was.")
    parser.add_argument("src", help="the dataset folder to import")
    parser.add_argument("dst", help="the new dataset folder (must not exist or be empty, unless --force)")
    parser.add_argument("--format", choices=FORMATS, help="the source layout (default: detect it)")
    parser.add_argument("--codes", metavar="FILE",
                        help="class list: codes.txt (names), label_colors.txt ('R G B name') or class_dict.csv "
                             "(name,r,g,b); overrides the source's own")
    parser.add_argument("--unknown-as-void", action="store_true",
                        help="map mask colours missing from the colour table to Void (default: an error)")
    parser.add_argument("--force", action="store_true", help="replace DST when it exists and is not empty")
    parser.add_argument("--limit", type=int, metavar="N", help="import only the first N images of each split")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.limit is not None and args.limit < 1:
        print("labeltool import: --limit must be at least 1", file=sys.stderr)
        return 2
    result = import_dataset(args.src, args.dst, fmt=args.format, class_file=args.codes,
                            unknown_as_void=args.unknown_as_void, force=args.force, limit=args.limit, log=print)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    counts = result.counts
    print(f"imported {counts['train'] + counts['valid'] + counts['test']} images ({counts['labelled']} with masks; "
          f"train {counts['train']}, valid {counts['valid']}, test {counts['test']}), {result.classes} classes "
          f"-> {result.destination}")
    if counts.get("proposals"):
        print(f"{counts['proposals']} of the masks were never checked (marked so in the source): imported as "
              "proposals, not corrections")
    return 0

"""labeltool status DATASET: the annotation record, for scripts and for checking a copied dataset.

Prints the counts per status and one line per image: status, the model that proposed it and its mean
confidence, who saved it and when. With --json, one JSON object: {"counts": {...}, "images": [...],
"warnings": [...]}. Statuses come from the mask files themselves (a model's proposal carries its
provenance inside its PNG), so a copy made with plain `cp -r`, `scp` or `git clone` reports the same.

Statuses: none (no mask), proposed (a model's, unchanged), edited (a person's work saved without being
checked: never trained on, never overwritten by proposals), corrected (a person's checked mask, or a mask
from another tool: trained on), reviewed (a corrected mask a reviewer approved: trained on; with the
project setting train_only_reviewed the only masks trained on), rejected (a reviewer sent it back with a
note: not trained on until a person fixes and accepts it; see `labeltool review`), unknown (a model's mask whose pixels changed, or of
unknown origin: never trained on).

--set STATUS NAME... sets the status of images by hand (NAME: the image's name or file name):
  corrected  the mask as it is is checked (refused while it records pixels nobody painted);
  edited     the mask is not checked (kept, never trained on);
  proposed   revert to the model's proposal kept when a person first saved over it;
  none       remove the mask (the file is moved into .labeltool/removed/, never deleted).
"""

from __future__ import annotations

import argparse
import json
import sys

from model.project.kept import STATUSES

SETTABLE = ("none", "proposed", "edited", "corrected")


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="counts and the per-image record; --set changes an image's status",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--only", choices=STATUSES,
                        help="list only images with this status")
    parser.add_argument("--set", nargs="+", metavar=("STATUS", "NAME"), dest="set_status",
                        help=f"set the status ({', '.join(SETTABLE)}) of the named images")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.project.project import Project

    project = Project.open(args.dataset)
    if args.set_status:
        return set_statuses(project, args.set_status, args.json)
    return show(project, args)


def _image_name(project, given: str) -> str:
    """An image's name from its name or file name (``f1`` or ``f1.png``); DatasetError naming it otherwise."""
    names = set(project.names())
    if given in names:
        return given
    stem = given.rpartition(".")[0]
    if stem in names and project.image_path(stem).name == given:
        return stem
    project.image_path(given)  # raises DatasetError naming images/GIVEN
    return given


def set_statuses(project, values: list[str], as_json: bool) -> int:
    from model.errors import LabeltoolError

    status, names = values[0], values[1:]
    if status not in SETTABLE:
        raise LabeltoolError(f"--set takes one of {', '.join(SETTABLE)}, not {status!r}")
    if not names:
        raise LabeltoolError("--set STATUS needs at least one image NAME")
    done, errors = change_each(project, names, lambda name: project.set_status(name, status))
    return report_changes(project, "set", done, errors, as_json)


def change_each(project, given: list[str], change) -> tuple[list[dict], list[str]]:
    """``change(name)`` for each image NAME given (file names too), as (done rows: name, from, to; errors):
    one image's error names its file and the others go on."""
    from model.errors import LabeltoolError

    done, errors = [], []
    for value in given:
        try:
            name = _image_name(project, value)
            before = project.status(name)
            change(name)
            done.append({"name": name, "from": before, "to": project.status(name)})
        except LabeltoolError as exc:
            errors.append(str(exc))
    return done, errors


def report_changes(project, key: str, done: list[dict], errors: list[str], as_json: bool) -> int:
    """What ``--set`` and ``labeltool review`` print: one line per image (or JSON), errors on stderr; 2 if any."""
    if as_json:
        json.dump({"dataset": str(project.root), key: done, "errors": errors}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for row in done:
            print(f"{row['name']}\t{row['from']} -> {row['to']}")
        for error in errors:
            print(f"labeltool: error: {error}", file=sys.stderr)
    return 2 if errors else 0


def show(project, args: argparse.Namespace) -> int:
    records = project.records()
    counts = {status: 0 for status in STATUSES}
    for rec in records.values():
        counts[rec.status] += 1
    rows = [rec.public() for rec in records.values() if args.only is None or rec.status == args.only]
    for row in rows:  # the reviewer's verdict lives in the mask file (few files: only reviewed/rejected ones)
        if row["status"] in ("reviewed", "rejected"):
            row["review"] = {k: v for k, v in (project.get_review(row["name"]) or {}).items() if k != "pixels"}
    if args.json:
        json.dump({"dataset": str(project.root), "images": rows, "counts": counts, "warnings": project.warnings},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    for warning in project.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{project.root}: {len(records)} images: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if counts["edited"]:
        print(f"{counts['edited']} masks are edited but not checked: they are never trained on; open and accept "
              "them (Enter), or `labeltool status DATASET --set corrected NAME...`", file=sys.stderr)
    if counts["unknown"]:
        print(f"{counts['unknown']} masks are of unknown origin (a model's mask whose pixels changed, a labeltool "
              "0.1 leftover, an unreadable record): they are never trained on; open and accept them (Enter) to "
              "count them", file=sys.stderr)
    if counts["rejected"]:
        print(f"{counts['rejected']} masks were rejected by a reviewer: they are not trained on until fixed and "
              "accepted again (`labeltool status DATASET --only rejected` lists the notes)", file=sys.stderr)
    for row in rows:
        detail = ""
        if row["status"] == "proposed":
            conf = row["mean_confidence"]
            detail = f"by {row['model'] or '?'}" + (f", confidence {conf:.0%}" if conf is not None else "")
        elif row["status"] in ("corrected", "edited") and row["corrected_by"]:
            detail = f"by {row['corrected_by']} at {row['corrected_at']}"
            if row["status"] == "edited":
                detail += " (not checked)"
        elif row["status"] in ("reviewed", "rejected"):
            review = row.get("review") or {}
            detail = f"by {row['corrected_by'] or '?'}, {review.get('verdict', '?')} by {review.get('by', '?')} " \
                     f"at {review.get('at', '?')}"
            if review.get("note"):
                detail += f": {review['note']}"
        print(f"{row['name']}\t{row['status']}\t{detail}")
    return 0

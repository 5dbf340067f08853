"""labeltool status DATASET: the annotation record, for scripts and for checking a copied dataset.

Prints the counts per status and one line per image: status, the model that proposed it and its mean
confidence, who corrected it and when. With --json, one JSON object: {"counts": {...}, "images": [...],
"warnings": [...]}. Statuses come from the mask files themselves (a model's proposal carries its
provenance inside its PNG), so a copy made with plain `cp -r`, `scp` or `git clone` reports the same.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="counts and the per-image record (status, model, corrected by/at)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--only", choices=("none", "proposed", "corrected", "unknown"),
                        help="list only images with this status")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.project import STATUSES, Project

    project = Project.open(args.dataset)
    records = project.records()
    counts = {status: 0 for status in STATUSES}
    for rec in records.values():
        counts[rec.status] += 1
    rows = [rec.public() for rec in records.values() if args.only is None or rec.status == args.only]
    if args.json:
        json.dump({"dataset": str(project.root), "images": rows, "counts": counts, "warnings": project.warnings},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    for warning in project.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{project.root}: {len(records)} images: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if counts["unknown"]:
        print(f"{counts['unknown']} masks are of unknown origin (labeltool 0.1 proposals changed since, or an "
              "unreadable record): they are never trained on; open and accept them (Enter) to count them",
              file=sys.stderr)
    for row in rows:
        detail = ""
        if row["status"] == "proposed":
            conf = row["mean_confidence"]
            detail = f"by {row['model'] or '?'}" + (f", confidence {conf:.0%}" if conf is not None else "")
        elif row["status"] == "corrected" and row["corrected_by"]:
            detail = f"by {row['corrected_by']} at {row['corrected_at']}"
        print(f"{row['name']}\t{row['status']}\t{detail}")
    return 0

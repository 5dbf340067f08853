"""labeltool merge THEIRS OURS: bring another copy of a dataset (an annotator's laptop, a second share) into
this one. THEIRS is only read, never changed.

Per image, the mask files decide (model.project.merge): a mask beats no mask; a person's work beats a
proposal; among people's work the higher status wins (edited < corrected < reviewed; a rejected mask loses
to a corrected or reviewed one); two proposals keep ours; the same pixels need nothing. Two different masks
of the same rank made by people are a conflict: ours stays, theirs is kept in .labeltool/conflicts/ and
listed in .labeltool/conflicts.json. Images only THEIRS has are copied in with their masks. A mask of ours
that theirs replaces is moved into .labeltool/removed/ first; copied masks keep their stamps.

--dry-run prints the plan and changes nothing. --json prints one JSON object.

labeltool merge --resolve OURS NAME --take ours|theirs resolves a conflict (the other mask is moved into
.labeltool/removed/); in the app: Image > Resolve merge conflict… (also per class).
"""

from __future__ import annotations

import argparse
import json
import sys

SHOWN = 20  # names listed per outcome in the summary


def register(subparsers) -> None:
    parser = subparsers.add_parser("merge", help="merge another copy of the dataset into this one",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", metavar="THEIRS", help="the other copy (never changed); with --resolve: OURS")
    parser.add_argument("second", metavar="OURS", help="this dataset (merged into); with --resolve: NAME")
    parser.add_argument("--dry-run", action="store_true", help="print what would happen; change nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--resolve", action="store_true", help="resolve the conflict of image NAME in OURS")
    parser.add_argument("--take", choices=("ours", "theirs"), help="with --resolve: the mask to keep")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.errors import LabeltoolError
    from model.project.project import Project

    if args.resolve:
        if args.take is None:
            raise LabeltoolError("--resolve OURS NAME needs --take ours or --take theirs")
        return resolve(Project.open(args.first), args.second, args.take, args.json)
    if args.take is not None:
        raise LabeltoolError("--take goes with --resolve OURS NAME")
    if args.dry_run:  # read-only: OURS is not even opened as a project (that writes its record)
        from model.project.merge import plan_merge

        plan = plan_merge(args.first, args.second)
    else:
        from model.project.merge_apply import merge

        plan = merge(Project.open(args.second), args.first)
    if args.json:
        json.dump({**plan.public(), "dry_run": bool(args.dry_run)}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print_summary(plan, args.dry_run)
    return 0


def print_summary(plan, dry_run: bool) -> None:
    from model.project.merge import OUTCOME_TITLES

    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    verb = "would merge" if dry_run else "merged"
    print(f"{plan.theirs} {verb} into {plan.ours}:")
    counts = plan.counts()
    for outcome, title in OUTCOME_TITLES.items():
        if counts[outcome] or outcome != "skip":
            print(f"  {title:<18}{counts[outcome]:>7}")
    for outcome in ("take", "new", "skip"):
        items = plan.by_outcome(outcome)
        if items and dry_run or items and outcome == "skip":
            shown = ", ".join(item.name for item in items[:SHOWN])
            more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
            print(f"{OUTCOME_TITLES[outcome]}: {shown}{more}")
    for item in plan.by_outcome("skip"):
        print(f"  {item.name}: {item.reason}", file=sys.stderr)
    conflicts = plan.by_outcome("conflict")
    if not conflicts:
        return
    print(f"{len(conflicts)} conflicts (two different masks of the same rank; ours stays"
          f"{'' if dry_run else ', theirs is in .labeltool/conflicts/'}):")
    differ = {} if dry_run else _differing(plan.ours)
    for item in conflicts:
        count = differ.get(item.name)
        print(f"  {item.name}: ours {item.ours.status} by {item.ours.by or '?'} at {item.ours.at or '?'}; "
              f"theirs {item.theirs.status} by {item.theirs.by or '?'} at {item.theirs.at or '?'}"
              + (f"; {count} pixels differ" if count is not None else ""))
    print(f"Resolve each with `labeltool merge --resolve {plan.ours} NAME --take ours|theirs`, or in the app: "
          "Image > Resolve merge conflict… (either mask, or theirs for the classes you pick)")


def _differing(ours) -> dict[str, int | None]:
    """How many pixels each listed conflict's two masks differ in (from .labeltool/conflicts.json)."""
    from model.errors import DatasetError
    from model.project.merge_apply import read_conflicts
    from model.project.status import STATE_DIR

    try:
        entries = read_conflicts(ours / STATE_DIR)
    except DatasetError:
        return {}
    return {name: entry.get("differing_pixels") for name, entry in entries.items()}


def resolve(project, name: str, take: str, as_json: bool) -> int:
    from model.project.merge_apply import resolve as resolve_conflict

    status = resolve_conflict(project, name, take)
    if as_json:
        json.dump({"dataset": str(project.root), "name": name, "took": take, "status": status}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"{name}: took {take} ({status}); the other mask is in {project.state_dir / 'removed'}")
    return 0

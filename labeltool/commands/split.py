"""labeltool split DATASET --valid 0.2: write valid.txt so no video sequence is on both sides."""

from __future__ import annotations

import sys
from pathlib import Path

from model.datasets.split import split_dataset
from model.project.layout import DEFAULT_GROUP_REGEX, SEQUENCE_SETTING, project_group_regex

NO_SEQUENCES = r"(?!)"  # matches nothing: every image is its own group


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "split", help="choose validation images by video sequence and write valid.txt",
        description="Write DATASET/valid.txt with about the given fraction of the images (test.txt images stay "
                    "out), keeping all frames of one sequence on the same side. Deterministic for a given --seed.")
    parser.add_argument("dataset", help="the dataset folder")
    parser.add_argument("--valid", type=float, default=0.2, metavar="FRACTION",
                        help="fraction of the images for validation (default 0.2)")
    parser.add_argument("--group-regex", default=None, metavar="REGEX",
                        help="the group (video) of an image name: the first capture group, else the whole match; "
                             "a name that does not match is its own group (default: the project's "
                             f"{SEQUENCE_SETTING} setting, the one neighbour proposals and the hold-out use; unset: "
                             f"{DEFAULT_GROUP_REGEX!r}, the prefix before the first _ or -); 'none': every image is its own "
                             "group (independent photos)")
    parser.add_argument("--remember", action="store_true",
                        help=f"store --group-regex as the project's {SEQUENCE_SETTING} setting, which the automatic "
                             "hold-out of a retrain and neighbour proposals read too")
    parser.add_argument("--seed", type=int, default=0, help="seed for choosing groups (default 0)")
    parser.add_argument("--dry-run", action="store_true", help="show the split, write nothing")
    parser.add_argument("--force", action="store_true", help="replace an existing, different valid.txt")
    parser.set_defaults(func=run)


def group_regex(dataset: str) -> str:
    """The project's sequence setting when DATASET is already a labeltool project, else the default."""
    if not (Path(dataset) / ".labeltool").is_dir():
        return DEFAULT_GROUP_REGEX
    from model.project.project import Project

    regex = project_group_regex(Project.open(dataset))
    return NO_SEQUENCES if regex is None else regex


def remember(dataset: str, given: str) -> None:
    """Store the sequence pattern as the project's setting ("" for 'none': independent images); the next
    reader (project_group_regex) refuses a pattern that is not a regular expression, so check it first."""
    import re

    from model.errors import DatasetError
    from model.project.project import Project

    value = "" if given.lower() == "none" else given
    try:
        re.compile(value)
    except re.error as exc:
        raise DatasetError(None, f"--group-regex {given!r} is not a regular expression ({exc}); "
                                 "the sequence setting was not changed") from exc
    Project.open(dataset).set_setting(SEQUENCE_SETTING, value)


def run(args) -> int:
    given = args.group_regex
    if args.remember:
        if given is None:
            print("--remember stores the pattern given with --group-regex; none was given", file=sys.stderr)
            return 2
        remember(args.dataset, given)
        print(f"the project's {SEQUENCE_SETTING} setting is now {given!r}: split, the automatic hold-out and "
              "neighbour proposals use it")
    if given is not None and given.lower() == "none":
        given = NO_SEQUENCES
    regex = given if given is not None else group_regex(args.dataset)
    plan = split_dataset(args.dataset, args.valid, regex, args.seed, force=args.force,
                         dry_run=args.dry_run)
    print(f"{'group':<24} {'images':>7}  side")
    for group in sorted(plan.groups):
        side = "valid" if group in plan.valid_groups else "train"
        print(f"{group:<24} {len(plan.groups[group]):>7}  {side}")
    total = len(plan.valid) + len(plan.train)
    print(f"valid: {len(plan.valid)} images from {len(plan.valid_groups)} groups ({100.0 * len(plan.valid) / total:.1f}%); "
          f"train: {len(plan.train)} images from {len(plan.groups) - len(plan.valid_groups)} groups")
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("dry run: valid.txt not written" if args.dry_run else f"wrote {args.dataset}/valid.txt")
    return 0

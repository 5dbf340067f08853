"""labeltool check DATASET: read every file, change nothing, list every problem with its file."""

from __future__ import annotations

import sys

from model.datasets.check import check_dataset, format_report


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="check a dataset: unreadable files, wrong sizes, bad class indices, list errors",
        description="Read every image and mask of DATASET without changing anything; list each problem with "
                    "its file, then per-class pixel counts and split sizes. Exit code 0 when clean, 1 otherwise.")
    parser.add_argument("dataset", help="the dataset folder (native layout)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from model.project.record import share_warning

    report = check_dataset(args.dataset, log=lambda line: print(line, file=sys.stderr))
    warning = share_warning(report.root / ".labeltool")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    print(format_report(report))
    return 0 if report.ok else 1

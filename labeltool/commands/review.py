"""labeltool review DATASET --approve NAME... | --reject NAME... --note TEXT: a reviewer's verdict.

--approve: the corrected masks named are reviewed (trained on; with the project setting
train_only_reviewed, the only masks trained on). --reject: they are sent back with --note (required),
saying what to fix: rejected masks are not trained on, and the app shows the note and walks them as work
to do. The verdict is written into each mask file's own stamp with the hash of the pixels reviewed, so it
holds only while the pixels are the ones reviewed. Only corrected (or already reviewed) masks can be
reviewed. NAME: the image's name or file name. --train-only-reviewed on|off sets the project setting
(on: only reviewed masks are trained on; off: corrected and reviewed ones). The reviewer's name is the annotator's (LABELTOOL_ANNOTATOR,
the preference file, else the login name) unless --by names one.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("review", help="approve corrected masks, or reject them with a note",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--approve", nargs="+", metavar="NAME", help="approve these images' corrected masks")
    group.add_argument("--reject", nargs="+", metavar="NAME", help="send these images back (needs --note)")
    group.add_argument("--train-only-reviewed", choices=("on", "off"), dest="only_reviewed",
                       help="train only on reviewed masks (on), or on corrected and reviewed ones (off)")
    parser.add_argument("--note", default="", help="what to fix (required with --reject)")
    parser.add_argument("--by", default=None, help="the reviewer's name (default: the annotator's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labeltool.commands.status import change_each, report_changes
    from model.errors import LabeltoolError
    from model.project.project import Project

    if args.only_reviewed:
        Project.open(args.dataset).set_setting("train_only_reviewed", args.only_reviewed == "on")
        print("training uses " + ("reviewed masks only" if args.only_reviewed == "on" else
                                  "corrected and reviewed masks"))
        return 0
    verdict, given = ("approved", args.approve) if args.approve else ("rejected", args.reject)
    if verdict == "rejected" and not args.note.strip():
        raise LabeltoolError("--reject needs --note TEXT saying what to fix")
    project = Project.open(args.dataset)
    done, errors = change_each(project, given, lambda name: project.review(name, verdict, note=args.note, by=args.by))
    return report_changes(project, "reviewed", done, errors, args.json)

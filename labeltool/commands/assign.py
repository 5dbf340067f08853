"""labeltool assign DATASET --annotators NAME,NAME... --overlap SHARE: who labels which images.

The images are split among the annotators, one contiguous run each (consecutive video frames go to one
person), and an overlap SHARE of them (every k-th image, spread over the whole order) goes to every
annotator, so that their agreement can be measured (labeltool agreement). Written to
.labeltool/assignment.json; the app's list filter "Assigned to me" shows each person their images. The
names are the annotators' names as their stamps carry them (labeltool whoami). --seed moves the overlap.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("assign", help="split the images among annotators, with an overlap share",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder")
    parser.add_argument("--annotators", required=True, help="comma-separated names (as labeltool whoami prints them)")
    parser.add_argument("--overlap", type=float, default=0.1, help="share of images every annotator labels (0..1)")
    parser.add_argument("--seed", type=int, default=0, help="which every-k-th images form the overlap")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.errors import LabeltoolError
    from model.project.assignment import plan_assignment, write_assignment
    from model.project.project import Project

    project = Project.open(args.dataset)
    try:
        assignment = plan_assignment(project.names(), args.annotators.split(","), args.overlap, args.seed)
    except ValueError as exc:
        raise LabeltoolError(str(exc)) from exc
    path = write_assignment(project.state_dir, assignment)
    if args.json:
        json.dump(assignment, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"{len(project.names())} images, {len(assignment['overlap'])} labelled by everyone ({path})")
    for who, names in assignment["assigned"].items():
        print(f"  {who}: {len(names)} images")
    return 0

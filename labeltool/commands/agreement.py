"""labeltool agreement DATASET: how far annotators who labelled the same images agree.

The images two or more people labelled are those of the assignment's overlap (labeltool assign) and the
conflicts of a merge (labeltool merge): each person's checked mask is kept as their opinion in
.labeltool/opinions/ (a merge files them; this command files those still only in labels/ or the conflicts).
Printed: per class, the IoU between the annotators (pooled over the images and pairs of annotators; Void is
not scored, but a class one calls Void counts against that class) beside the active model's held-out IoU
from its card; each annotator's reliability as STAPLE estimates it; the images by disagreement, most first.

--write-consensus writes the consensus of each image to .labeltool/consensus/NAME_P.png (and
NAME.undecided.png: the pixels a person must decide), by majority vote (ties are undecided) or
--method staple (each annotator weighed by their estimated reliability). labels/ is never changed: the
reviewer adjudicates in the app (Image > Start from consensus, then approve).
"""

from __future__ import annotations

import argparse
import json
import sys

SHOWN = 15


def register(subparsers) -> None:
    parser = subparsers.add_parser("agreement", help="per-class agreement between annotators, and their consensus",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder")
    parser.add_argument("--method", choices=("majority", "staple"), default="majority",
                        help="how --write-consensus decides (default: majority)")
    parser.add_argument("--write-consensus", action="store_true", help="write .labeltool/consensus/ for review")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.evaluation.agreement import measure
    from model.project.opinions import collect
    from model.project.project import Project
    from model.registry.modelfile import read_card
    from model.registry.registry import active_model

    project = Project.open(args.dataset)
    collect(project)
    model = active_model(project.models_dir)
    report = measure(project, model_card=read_card(model) if model is not None else None)
    written = write_consensus(project, report.images, args.method) if args.write_consensus else []
    if args.json:
        json.dump({**report.public(), "consensus_written": written}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print_report(report)
    if written:
        print(f"consensus ({args.method}) of {len(written)} images in {project.state_dir / 'consensus'}")
    return 0


def write_consensus(project, names: list[str], method: str) -> list[str]:
    from model.evaluation.agreement import consensus, fit_staple, labelled_together
    from model.project.consensus_files import write_consensus_files

    fitted = None
    if method == "staple":
        together = labelled_together(project, names)
        people = sorted({w for m in together.values() for w in m})
        fitted = fit_staple([[m[w] for w in people] for m in together.values() if sorted(m) == people],
                            len(project.codes)) if together else None
    done = []
    for name in names:
        found = consensus(project, name, method, fitted if method == "staple" else None)
        if found is not None:
            write_consensus_files(project, name, found[0], found[1])
            done.append(name)
    return done


def print_report(report) -> None:
    if not report.images:
        print("no image was labelled by two or more people yet (labeltool assign gives an overlap; "
              "labeltool merge brings the copies together)")
        return
    print(f"{len(report.images)} images labelled by {len(report.annotators)} annotators: "
          f"{', '.join(report.annotators)}")
    model = report.model or {}
    model_iou = model.get("per_class_iou") or {}
    print(f"{'class':<16}{'IoU between annotators':>24}{'model (held out)':>18}")
    for name, iou in report.per_class_iou.items():
        theirs = model_iou.get(name)
        print(f"{name:<16}{_fmt(iou):>24}{_fmt(theirs):>18}")
    print(f"{'mean':<16}{_fmt(report.miou):>24}{_fmt(model.get('miou')):>18}")
    if not report.model:
        print("(no model yet: train one to compare)")
    if report.reliability:
        print("reliability (STAPLE): " + ", ".join(f"{w} {r:.3f}" for w, r in report.reliability.items()))
    print("most disagreement first (share of pixels not all agree on):")
    for name in report.images[:SHOWN]:
        print(f"  {name}: {report.disagreement[name]:.1%}")
    if len(report.images) > SHOWN:
        print(f"  … and {len(report.images) - SHOWN} more")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"

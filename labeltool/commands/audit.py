"""labeltool audit DATASET: a model that never saw an image checks its corrected mask.

For each corrected or reviewed mask, a held-out model (made for this class list, whose card says it never
learned from that image: the active model when it qualifies, else the newest that does) predicts the image;
pixels where it is sure (confidence >= --threshold, 0.9 by default) of another class than the mask's are
*disputed* (Void pixels of the mask are not scored). The images are printed by disputed pixels, most first,
so a reviewer checks the likely mistakes first; the app's list sorts the same way ("Most disputed first")
and shows the disputed pixels over the image (View > Disputed pixels). An image every model learned from is
not audited (a model agrees with the masks it trained on): retrain with it held out (valid.txt) to audit it.
A mask changed after its audit counts as not audited. Rows: .labeltool/audit.json; planes: .labeltool/audit/.

--json prints the progress protocol's events (start, audited per image, done) for the app.
"""

from __future__ import annotations

import argparse
import sys

SHOWN = 20


def register(subparsers) -> None:
    parser = subparsers.add_parser("audit", help="a held-out model flags corrected pixels it confidently disputes",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder")
    parser.add_argument("--threshold", type=float, default=None, help="confidence from which a pixel is disputed (0.9)")
    parser.add_argument("--model", default=None, help="audit only with this model (a file name in models/)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when there is one)")
    parser.add_argument("--json", action="store_true", help="print progress as JSON lines on stdout (for the app)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.errors import LabeltoolError
    from model.evaluation.audit import DISPUTE_CONFIDENCE, audit, plan_audit
    from model.progress import format_event
    from model.project.project import Project

    threshold = DISPUTE_CONFIDENCE if args.threshold is None else args.threshold
    if not 0 < threshold <= 1:
        raise LabeltoolError(f"--threshold is a confidence in (0, 1], not {threshold}")

    def emit(event: dict) -> None:
        if args.json:
            sys.stdout.write(format_event(event) + "\n")
            sys.stdout.flush()

    project = Project.open(args.dataset)
    plan, orphans = plan_audit(project, model=args.model)
    emit({"event": "start", "command": "audit", "images": sum(len(v) for v in plan.values()),
          "models": [p.name for p in plan], "no_model": len(orphans)})
    result = audit(project, threshold=threshold, model=args.model, device=args.device,
                   on_progress=lambda done, total, name: emit({"event": "audited", "name": name, "done": done,
                                                               "total": total}))
    for name, message in result.errors.items():
        emit({"event": "notice", "message": f"not audited {name}: {message}"})
    ranked = result.ranked()
    emit({"event": "done", "command": "audit", "audited": len(ranked), "no_model": result.no_model,
          "disputed": {n: result.rows[n]["disputed"] for n in ranked}})
    if args.json:
        return 0
    if not ranked and not result.no_model:
        print("no corrected or reviewed mask to audit")
    if ranked:
        print(f"{len(ranked)} masks audited (disputed: the held-out model is >= {threshold:g} sure of another class)")
        for name in ranked[:SHOWN]:
            row = result.rows[name]
            print(f"  {name}: {row['disputed']} disputed pixels ({row['share']:.2%}), by {row['model']}")
        if len(ranked) > SHOWN:
            print(f"  … and {len(ranked) - SHOWN} more")
    if result.no_model:
        print(f"{len(result.no_model)} masks not audited: every model learned from them (list some in valid.txt "
              "and retrain, so a model is held out from them)")
    for name, message in result.errors.items():
        print(f"not audited {name}: {message}", file=sys.stderr)
    return 0

"""labeltool models DATASET: the dataset's models, which one proposes (active), and what to keep.

Lists every complete model in DATASET/models with its date, training images, validation figures and
marks (active: the model that proposes; pinned: never pruned; best: highest validation mIoU), exactly
as the app's Models panel shows them. --json prints the same list as one JSON object.

A retrain's new model becomes active only when the promotion gate finds it not worse than the active
model and the best model (mIoU at most 0.01 lower than each) on the same validation images, none of
which any of them trained on; otherwise (or when fewer than 3 such images are left) it is kept,
marked "not promoted" with the figures, and can be promoted by hand with --promote.
"""

from __future__ import annotations

import argparse
import json
import sys

from model.registry.gate import seen_images, unseen_images


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list, promote, pin or delete the dataset's models",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder")
    parser.add_argument("--json", action="store_true", help="print the list as JSON (what the Models panel shows)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--promote", metavar="NAME", help="make this model the active one (it proposes from now on)")
    action.add_argument("--rollback", action="store_true", help="make the previously active model active again")
    action.add_argument("--pin", metavar="NAME", help="keep this model whatever pruning does")
    action.add_argument("--unpin", metavar="NAME", help="let pruning delete this model again")
    action.add_argument("--delete", metavar="NAME", help="delete this model (not the active or a pinned one)")
    action.add_argument("--evaluate", metavar="NAME",
                        help="score this model (or 'active') on the current validation images it did not train on")
    parser.set_defaults(func=run)


def listing(models_dir, codes: list[str] | None = None) -> dict:
    """The JSON document of `labeltool models --json` (the Models panel shows the same rows)."""
    from model.registry.gate import GATE_RULE
    from model.registry.registry import model_rows, read_registry

    reg = read_registry(models_dir)
    rows = model_rows(models_dir, codes)
    active = next((r["name"] for r in rows if r["active"]), None)
    return {"models_dir": str(models_dir), "active": active, "rule": GATE_RULE, "holdout": reg["holdout"],
            "models": rows}


def format_rows(rows: list[dict]) -> str:
    def fig(v):
        return "   -  " if v is None else f"{v:6.3f}"

    lines = [f"{'model':<32} {'date':<19} {'train':>5} {'valid':>5} {'acc':>6} {'mIoU':>6}  marks"]
    for r in rows:
        marks = [m for m in ("active", "pinned", "best") if r[m]] + (["classes differ"] if r.get("classes_differ") else [])
        if r["promoted"] is False:
            best = (f", best {r['compared_best']}: mIoU {fig(r['compared_best_miou']).strip()}"
                    if r.get("compared_best") else "")
            marks.append(f"not promoted (active {r['compared_with']}: mIoU {fig(r['compared_miou']).strip()}{best})")
        lines.append(f"{r['name'].removesuffix('.safetensors'):<32} {str(r['date'] or '')[:19]:<19} "
                     f"{r['training_images']:>5} {r['validation_images']:>5} {fig(r['pixel_accuracy'])} "
                     f"{fig(r['miou'])}  {', '.join(marks)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from model.project.project import Project
    from model.registry import registry

    project = Project.open(args.dataset)
    models_dir = project.models_dir
    done = None
    if args.promote:
        done = f"active model: {registry.promote(models_dir, args.promote).name}"
    elif args.rollback:
        done = f"rolled back; active model: {registry.roll_back(models_dir).name}"
    elif args.pin:
        done = f"pinned {registry.pin(models_dir, args.pin).name}"
    elif args.unpin:
        done = f"unpinned {registry.pin(models_dir, args.unpin, pinned=False).name}"
    elif args.delete:
        done = f"deleted {registry.delete(models_dir, args.delete).name}"
    elif args.evaluate:
        return _evaluate(project, args)
    doc = listing(models_dir, project.codes)
    if args.json:
        if done:
            doc["done"] = done
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return 0
    if done:
        print(done)
    print(format_rows(doc["models"]) if doc["models"] else f"{models_dir}: no model yet (labeltool train DATASET)")
    return 0


def _evaluate(project, args) -> int:
    """Per-class IoU and confusion matrix of a model on the current validation images."""
    from model.errors import DatasetError
    from model.evaluation.evaluate import evaluate_project, format_table
    from model.registry import registry
    from model.registry.modelfile import read_card

    models_dir = project.models_dir
    path = registry.active_model(models_dir) if args.evaluate == "active" else registry.resolve_model(models_dir,
                                                                                                       args.evaluate)
    if path is None:
        raise DatasetError(models_dir, "no model yet")
    current = validation_names(project)
    if not current:
        raise DatasetError(project.root / "valid.txt", "no validation images: list some corrected images in "
                                                       "valid.txt, or retrain (it holds some out automatically)")
    seen = seen_images(read_card(path), models_dir)
    if seen is None:
        raise DatasetError(path.with_suffix(".json"), "the card does not list the images this model trained on, "
                                                      "so it cannot be scored fairly")
    names, excluded = unseen_images(current, [seen])  # never scored on an image it trained on
    if not names:
        raise DatasetError(project.root / "valid.txt", f"{path.name} trained on all {len(current)} current "
                                                       "validation images: list others in valid.txt to score it")
    result = evaluate_project(project, model_path=path, names=names, save=False)
    result["model"] = path.name
    result["images"], result["excluded"] = names, excluded
    result["card_validation"] = (read_card(path).get("validation") or {}).get("metrics")
    if args.json:
        sys.stdout.write(json.dumps(result, indent=1, allow_nan=False) + "\n")
    else:
        left_out = f" ({len(excluded)} it trained on left out)" if excluded else ""
        print(f"{path.name} on {len(names)} validation images{left_out}")
        print(format_table(result))
    return 0


def validation_names(project) -> list[str]:
    """The images models are compared on now: corrected images in valid.txt, else the automatic hold-out."""
    from model.registry.registry import read_registry

    corrected = set(project.corrected_names())
    listed = project.valid_names()
    names = [n for n in project.names() if n in listed and n in corrected]
    if not names:
        held = set(read_registry(project.models_dir)["holdout"])
        names = [n for n in project.names() if n in held and n in corrected]
    return names

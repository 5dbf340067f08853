"""`labeltool demo`: create the built-in demo project, train a first model, propose, open the app."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="open the built-in demo project (created, trained and proposed on first use)",
        description="Creates generated street scenes with CamVid-11 classes (some labelled), trains a first "
                    "model on the labelled ones if there is none, proposes masks for the rest, opens the app.")
    parser.add_argument("folder", nargs="?", default="labeltool-demo", help="where the demo lives (default: %(default)s)")
    parser.add_argument("--time-budget", type=float, default=40.0,
                        help="seconds for the first training (default: %(default)s)")
    parser.add_argument("--no-gui", action="store_true", help="prepare the demo but do not open the app")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.datasets.demo import create_demo_project
    from model.project.project import Project
    from model.registry.modelfile import latest_model

    root = Path(args.folder).resolve()
    if not (root / "codes.txt").exists():
        create_demo_project(root)
        print(f"Created the demo project in {root}")
    project = Project.open(root)
    if latest_model(project.models_dir) is None:
        print(f"Training a first model on the {len(project.corrected_names())} labelled demo images "
              f"(about {args.time_budget:.0f} s)...", flush=True)
        command = [sys.executable, "-m", "labeltool", "train", str(root), "--time-budget", str(args.time_budget)]
        if subprocess.call(command) != 0:
            print("labeltool: the first training failed; the app opens without proposals", file=sys.stderr)
    if latest_model(project.models_dir) is not None:
        from model.inference.propose import propose_dataset

        written = propose_dataset(project)
        print(f"Proposed masks for {len(written)} images")
    if args.no_gui:
        return 0
    from labeltool.gui.app import run_app

    return run_app(str(root))

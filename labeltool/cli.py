"""The `labeltool` command: `labeltool [FOLDER]` opens the app; subcommands run the engine headless."""

from __future__ import annotations

import argparse
import importlib
import sys

from model.errors import LabeltoolError

# Each module in labeltool/commands/ adds one subcommand through register(subparsers).
COMMANDS = (
    "demo", "train", "predict", "evaluate", "lr_find",
    "import_", "export", "split", "check", "status", "review", "models", "merge", "classes", "whoami", "assign", "agreement",
    "audit",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labeltool",
        description="Label images for semantic segmentation. With no command (or just a FOLDER) the app opens.",
    )
    from labeltool import __version__

    parser.add_argument("--version", action="version", version=f"labeltool {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    open_parser = subparsers.add_parser("open", help="open a dataset folder in the app (the default command)")
    open_parser.add_argument("folder", nargs="?", help="dataset folder (CamVid/fastai layout or a folder of images)")
    open_parser.set_defaults(func=_run_app)
    for name in COMMANDS:
        importlib.import_module(f"labeltool.commands.{name}").register(subparsers)
    return parser


def _run_app(args: argparse.Namespace) -> int:
    from labeltool.gui.app import run_app

    return run_app(args.folder)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001 - argparse has no public API
    if not argv or (argv[0] not in known and not argv[0].startswith("-")):
        argv = ["open", *argv]  # `labeltool` and `labeltool FOLDER` open the app
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LabeltoolError as exc:
        print(f"labeltool: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labeltool: interrupted", file=sys.stderr)
        return 130

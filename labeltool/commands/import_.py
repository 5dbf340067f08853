"""labeltool import: placeholder until filled in."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("import", help="(not yet available)")
    parser.set_defaults(func=run)


def run(args) -> int:
    print("labeltool import: not implemented yet")
    return 1

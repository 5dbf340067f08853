"""labeltool export: placeholder until filled in."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="(not yet available)")
    parser.set_defaults(func=run)


def run(args) -> int:
    print("labeltool export: not implemented yet")
    return 1

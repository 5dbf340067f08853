"""labeltool split: placeholder until filled in."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("split", help="(not yet available)")
    parser.set_defaults(func=run)


def run(args) -> int:
    print("labeltool split: not implemented yet")
    return 1

"""labeltool classes DATASET [OPERATION]: show or change the class list so that every mask keeps its meaning.

A mask stores class numbers (line N of codes.txt is class N-1), so codes.txt must not be reordered or
renamed by hand: the dataset then refuses to open. Each operation rewrites codes.txt and every mask
together, under the dataset's lock, in a way a crash cannot tear (the next open finishes or undoes it):

  rename OLD NEW                 a class gets another name (no pixel changes)
  add NAME [--colour R,G,B]      a new class at the end (no pixel changes)
  merge A B... --into C          A, B, ... become C (an existing class, or a new name in A's place)
  reorder NAME1 NAME2 ...        the same classes in another order (name every class once)
  split OLD --into NEW1 NEW2...  OLD becomes NEW1, NEW2, ...: its pixels are ambiguous, so every mask
                                 with such pixels becomes edited (needs a person's check, never trained
                                 on), holds NEW1 there and records them as unpainted for the editor
  restore                        put the remembered list back into codes.txt (after a hand edit)
  accept                         take codes.txt as it is: the masks' numbers are meant for it

Statuses are kept (a person's corrected mask stays corrected: each pixel keeps its meaning); the old list
is kept as models/codes-TIME.txt (with codes-TIME.json: the mapping) and the old masks in
.labeltool/classes-TIME/old/. Models trained on the old list no longer match and are refused. With no
operation: the list, masks stamped with another list, and models made for other classes.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("classes", help="show or change the class list (every mask keeps its meaning)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder")
    parser.add_argument("operation", nargs="?",
                        choices=("rename", "add", "merge", "reorder", "split", "restore", "accept"))
    parser.add_argument("names", nargs="*", help="class names (see above)")
    parser.add_argument("--into", nargs="+", metavar="NAME", help="merge: the class; split: the new classes")
    parser.add_argument("--colour", "--color", dest="colour", metavar="R,G,B", help="add: the new class's colour")
    parser.add_argument("--dry-run", action="store_true", help="show what would change (images, pixels), change nothing")
    parser.set_defaults(func=run)


def _colour(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise SystemExit(f"labeltool classes: --colour wants R,G,B with each 0..255, not {text!r}")
    return values  # type: ignore[return-value]


def plan_for(codes: list[str], args: argparse.Namespace):
    """The Change that the command line asks for (SystemExit with the usage problem otherwise)."""
    from model.project import classes as ops

    op, names = args.operation, args.names

    def need(ok: bool, usage: str) -> None:
        if not ok:
            raise SystemExit(f"labeltool classes: usage: labeltool classes DATASET {usage}")

    if op == "rename":
        need(len(names) == 2 and not args.into, "rename OLD NEW")
        return ops.plan_rename(codes, *names)
    if op == "add":
        need(len(names) == 1 and not args.into, "add NAME [--colour R,G,B]")
        return ops.plan_add(codes, names[0], _colour(args.colour))
    if op == "merge":
        need(bool(names) and args.into is not None and len(args.into) == 1, "merge A B... --into C")
        return ops.plan_merge(codes, names, args.into[0])
    if op == "reorder":
        need(bool(names) and not args.into, "reorder NAME1 NAME2 ... (every class once)")
        return ops.plan_reorder(codes, names)
    need(len(names) == 1 and args.into is not None and len(args.into) >= 2, "split OLD --into NEW1 NEW2")
    return ops.plan_split(codes, names[0], args.into)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from model.project import class_journal
    from model.project.codes import read_codes
    from model.project.project import Project

    root = Path(args.dataset).expanduser().resolve()
    if args.operation == "restore":
        names = class_journal.restore_codes(root)
        print(f"{root / 'codes.txt'}: the remembered list is back: {' '.join(names)}")
        return 0
    if args.operation == "accept":
        names = read_codes(root / "codes.txt")
        old = class_journal.accept_codes(root, names)
        print(f"{root / 'codes.txt'}: accepted as it is: {' '.join(names)}"
              + (f" (was {' '.join(old)}); every mask's numbers now mean these classes" if old else ""))
        return 0
    project = Project.open(root)
    for warning in project.warnings:
        print(f"warning: {warning}")
    if args.operation is None:
        return show(project)
    change = plan_for(list(project.codes), args)
    for line in class_journal.apply(project, change, dry_run=args.dry_run):
        print(line)
    if not args.dry_run:
        print(f"done; the old list is kept in {project.models_dir}/codes-*.txt, the old masks in "
              f"{project.state_dir}/classes-*/old/; models trained on the old list no longer match")
    return 0


def show(project) -> int:
    """The list, masks whose stamp says another list, models made for other classes."""
    from model.project.codes import tag_fits
    from model.project.provenance import read_stamp

    for i, name in enumerate(project.codes):
        print(f"{i:>3}  {name}")
    other = []
    for name in project.names():
        path = project.label_path(name)
        if path.exists() and tag_fits((read_stamp(path) or {}).get("codes"), project.codes) is False:
            other.append(name)
    if other:
        print(f"{len(other)} mask(s) were made for another class list (copied from another dataset?): "
              f"{', '.join(other[:20])}{' ...' if len(other) > 20 else ''}")
    differ = []
    if project.models_dir.is_dir():
        from model.registry.modelfile import list_models, read_card

        for path in list_models(project.models_dir):
            try:
                classes = read_card(path).get("classes")
            except Exception:  # noqa: BLE001 - an unreadable card is reported by `labeltool models`
                continue
            if classes != list(project.codes):
                differ.append(path.name)
    if differ:
        print(f"classes differ (these models cannot propose here): {', '.join(differ)}")
    return 0

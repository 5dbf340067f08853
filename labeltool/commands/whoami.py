"""labeltool whoami [--set NAME]: the annotator's name written in every mask a person saves.

The name comes from the environment variable LABELTOOL_ANNOTATOR, else the preference file
$XDG_CONFIG_HOME/labeltool/annotator (~/.config/labeltool/annotator), else the login name
(model/project/identity.py). --set NAME writes the preference file (the app's File → Preferences… writes
the same file); an empty name or one with control characters is refused and the file is left as it was.
"""

from __future__ import annotations

import argparse

from model.project import identity

SOURCES = {"environment": f"from ${identity.ENV}", "preference": "from {path}", "login": "the login name"}


def register(subparsers) -> None:
    parser = subparsers.add_parser("whoami", help="the annotator's name written in every saved mask; --set changes it",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", metavar="NAME", dest="name", help="remember NAME as your annotator name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name is not None:
        written = identity.set_annotator(args.name)  # AnnotatorNameError: printed by the CLI, exit 2
        print(f"Saved {written!r} in {identity.preference_path()}")
        if identity.source() == "environment":
            print(f"Note: ${identity.ENV} is set and wins over the preference while it is set")
    where = SOURCES[identity.source()].format(path=identity.preference_path())
    print(f"{identity.annotator()} ({where})")
    return 0

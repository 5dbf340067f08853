"""Who is labelling: the annotator's name written in every person's stamp and in the record (corrected_by).

The one rule, :func:`annotator`:

1. the environment variable ``LABELTOOL_ANNOTATOR`` (a shared account, a script, a test);
2. else the preference file ``$XDG_CONFIG_HOME/labeltool/annotator`` (``~/.config/labeltool/annotator``
   when XDG_CONFIG_HOME is unset): one line, stripped; the app's Preferences and ``labeltool whoami --set``
   write it (:func:`set_annotator`);
3. else the login name (``getpass.getuser()``), ``"unknown"`` where there is none.

A value that is empty or holds control characters (a hand-edited file with a stray byte) is passed over
for the next source. The file is read at every call, so a name changed in the app or a terminal holds for
the next save of every process.
"""

from __future__ import annotations

import getpass
import os
import unicodedata
from pathlib import Path

from model.atomic import atomic_write_text
from model.errors import LabeltoolError

ENV = "LABELTOOL_ANNOTATOR"
MAX_LENGTH = 200


class AnnotatorNameError(LabeltoolError, ValueError):
    """A name :func:`set_annotator` refuses (empty, control characters, too long)."""


def preference_path() -> Path:
    """``$XDG_CONFIG_HOME/labeltool/annotator`` (default ``~/.config/labeltool/annotator``)."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"  # XDG: relative = unset
    return root / "labeltool" / "annotator"


def name_problem(name: str) -> str | None:
    """Why ``name`` (leading and trailing white space aside) cannot be an annotator's name, or None."""
    if not isinstance(name, str) or not name.strip():
        return "the name is empty"
    name = name.strip()
    for position, char in enumerate(name):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return f"the name holds a control character ({char!r} at position {position + 1})"
    if len(name) > MAX_LENGTH:
        return f"the name is longer than {MAX_LENGTH} characters"
    return None


def _usable(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text if text and name_problem(text) is None else None


def login_name() -> str:
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # noqa: BLE001 - no user name in this environment (a container without passwd entry)
        return "unknown"


def preferred_name() -> str | None:
    """The name in the preference file, or None (no file, unreadable, empty or unusable)."""
    try:
        text = preference_path().read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    lines = text.splitlines()
    return _usable(lines[0]) if lines else None


def source() -> str:
    """Where :func:`annotator` takes the name from: ``"environment"``, ``"preference"`` or ``"login"``."""
    if _usable(os.environ.get(ENV)) is not None:
        return "environment"
    return "preference" if preferred_name() is not None else "login"


def annotator() -> str:
    """The annotator's name (see the module docstring for the order)."""
    return _usable(os.environ.get(ENV)) or preferred_name() or login_name()


def set_annotator(name: str) -> str:
    """Write ``name`` (stripped) to the preference file, atomically; returns the name written. An empty name,
    one with control characters or longer than MAX_LENGTH is refused (:class:`AnnotatorNameError`) and the
    file is left as it was."""
    path = preference_path()
    problem = name_problem(name)
    if problem is not None:
        raise AnnotatorNameError(f"{path}: not changed: {problem}")
    name = name.strip()
    atomic_write_text(path, name + "\n")
    return name


__all__ = ["ENV", "AnnotatorNameError", "annotator", "login_name", "name_problem", "preference_path",
           "preferred_name", "set_annotator", "source"]

"""The one way a subpackage's ``__init__`` shows its public names without importing its modules (PEP 562):
``__getattr__ = lazy_face(__name__, {"Name": "module", ...})``. Importing ``model.project`` then loads
nothing else until ``model.project.Project`` is asked for, so a headless command never pays for torch."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_face(package: str, home: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``package.home[name]`` on first use and keeps the value."""

    def __getattr__(name: str) -> object:
        if name in home:
            value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__

"""Imports go one way: the app (labeltool/) uses the engine (model/); the engine never imports Qt or the app."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_engine_never_imports_qt_or_the_app():
    offenders = []
    for path in sorted((ROOT / "model").rglob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "labeltool", "shiboken6"):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_every_third_party_import_is_declared():
    """Each package model/ and labeltool/ import is a declared dependency (or in an extra), not a
    passenger of another package's requirements."""
    import re
    import sys
    from importlib.metadata import packages_distributions

    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"]) + [d for deps in project["optional-dependencies"].values() for d in deps]
    names = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in declared}
    dists = packages_distributions()
    missing = []
    for folder in ("model", "labeltool"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module in imported_modules(path):
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("model", "labeltool", "__future__"):
                    continue
                owners = {d.lower().replace("_", "-") for d in dists.get(top, [top])}
                if not owners & names:
                    missing.append(f"{path.relative_to(ROOT)}: {module} ({', '.join(sorted(owners))})")
    assert not missing, "undeclared imports:\n" + "\n".join(missing)


def test_the_workspace_never_imports_qt():
    """labeltool/workspace holds the window's rules without Qt: headless runs and tests never load it."""
    offenders = []
    for path in sorted((ROOT / "labeltool" / "workspace").rglob("*.py")):
        for module in imported_modules(path):
            if module.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6") or \
                    module.startswith("labeltool.gui"):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_importing_the_workspace_loads_no_qt():
    import subprocess
    import sys

    code = ("import sys, labeltool.workspace, labeltool.workspace.folder_lock, labeltool.workspace.retrain; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_no_app_file_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in sorted((ROOT / "labeltool").rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400]
    assert not long, "\n".join(long)

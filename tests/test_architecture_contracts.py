"""Dependencies point one way (issue 17), checked on the source with ast: every import counts, those
inside functions too. docs/architecture.md draws the same table.

    training ─► evaluation ─► inference ─► registry ─► nets ─► images ─► base
        │                         │                              ▲
        └─► datasets ─► project ◄─┘ (project ─► images)          │
base = model.errors, model.atomic, model.filelock, model.progress, model.faces: used by everyone, import nobody.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = {"errors", "atomic", "filelock", "progress", "faces"}
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph")

# package -> the packages it may import (besides itself). The one table of the engine's layers.
ALLOWED = {
    "base": set(),
    "images": {"base"},
    "project": {"images", "base"},
    "nets": {"images", "base"},
    "datasets": {"project", "images", "base"},
    "registry": {"nets", "images", "base"},
    "inference": {"registry", "nets", "project", "images", "base"},
    "evaluation": {"inference", "registry", "nets", "project", "images", "base"},
    "training": {"evaluation", "inference", "registry", "nets", "project", "datasets", "images", "base"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    """(line, imported module, imported name or None) of every import in the file, relative ones resolved."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                yield node.lineno, source, alias.name


def model_package(module: str) -> str | None:
    """The engine package a model module belongs to ("base" for the top-level modules)."""
    parts = module.split(".")
    if parts[0] != "model":
        return None
    if len(parts) == 1 or parts[1] in BASE:
        return "base"
    return parts[1]


def targets(source: str, name: str | None) -> list[str]:
    """Modules an import reaches: ``from model.images import imageio`` reaches model.images.imageio."""
    if name and (ROOT / Path(*source.split("."), name + ".py")).exists():
        return [f"{source}.{name}"]
    return [source]


def engine_edges():
    for path in sorted((ROOT / "model").rglob("*.py")):
        here = model_package(module_name(path))
        for line, source, name in imports(path):
            for target in targets(source, name):
                there = model_package(target)
                if there is not None:
                    yield path, line, here, there, target


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_engine_layers_point_down():
    offenders = [f"{where(p, n)}: {here} imports {target} ({there}); {here} may import only "
                 f"{', '.join(sorted(ALLOWED[here])) or 'nothing in model'}"
                 for p, n, here, there, target in engine_edges()
                 if here != there and there not in ALLOWED.get(here, set())]
    assert not offenders, "imports against the layers (tests/test_architecture_contracts.py ALLOWED):\n" + \
        "\n".join(offenders)


def test_every_engine_package_has_a_layer():
    packages = {model_package(module_name(p)) for p in (ROOT / "model").rglob("*.py")}
    assert packages <= set(ALLOWED), f"packages without a row in ALLOWED: {sorted(packages - set(ALLOWED))}"


def test_project_never_imports_inference():
    offenders = [f"{where(p, n)}: imports {t}" for p, n, here, there, t in engine_edges()
                 if here == "project" and there in ("inference", "evaluation", "training")]
    assert not offenders, "\n".join(offenders)


def test_no_import_circle_between_engine_packages():
    graph: dict[str, set[str]] = {}
    for _p, _n, here, there, _t in engine_edges():
        if here != there:
            graph.setdefault(here, set()).add(there)
    cycles = []

    def visit(node, trail):
        for nxt in sorted(graph.get(node, ())):
            if nxt in trail:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif len(trail) < len(ALLOWED):
                visit(nxt, trail + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, "import circles between engine packages:\n" + "\n".join(sorted(set(cycles)))


def headless_files():
    yield from sorted((ROOT / "model").rglob("*.py"))
    yield from sorted((ROOT / "labeltool" / "workspace").rglob("*.py"))


def test_engine_and_workspace_never_import_qt():
    offenders = [f"{where(p, n)}: imports {source}" for p in headless_files() for n, source, _ in imports(p)
                 if source.split(".")[0] in QT or (p.parts[-3:-1] != ("labeltool", "gui") and
                                                   module_name(p).startswith("model") and
                                                   source.split(".")[0] == "labeltool")]
    assert not offenders, "headless code imports Qt or the app:\n" + "\n".join(offenders)


def owner(module: str) -> str:
    """The package that owns a module: model.<pkg> / labeltool.<pkg> (top-level modules: the package itself)."""
    parts = module.split(".")
    if parts[0] == "model":
        return "model." + (model_package(module) or "")
    return ".".join(parts[:2]) if len(parts) > 2 else parts[0]


def test_no_package_reaches_into_another_packages_private_names():
    offenders = []
    for folder in ("model", "labeltool"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            here = owner(module_name(path))
            for line, source, name in imports(path):
                if source.split(".")[0] not in ("model", "labeltool"):
                    continue
                private_module = any(p.startswith("_") and not p.startswith("__") for p in source.split("."))
                private_name = bool(name) and name.startswith("_") and not name.startswith("__")
                if (private_module or private_name) and owner(source) != here:
                    offenders.append(f"{where(path, line)}: {here} imports {source}" + (f".{name}" if name else ""))
    assert not offenders, "private names used across packages:\n" + "\n".join(offenders)

"""codes.txt: one class name per line, the line number is the class index (fastai's CamVid layout)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from model.atomic import atomic_write_text
from model.errors import CodesError

# The SegNet CamVid-11 split: 11 scored classes and Void (index 11, not scored).
CAMVID11_CODES = [
    "Sky", "Building", "Pole", "Road", "Sidewalk", "Tree",
    "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist", "Void",
]

# Names that mean "not labelled / not scored".
VOID_NAMES = ("void", "unlabelled", "unlabeled")


def parse_codes(text: str, source: str | Path = "codes.txt") -> list[str]:
    """Parse codes.txt text. Forgiving about BOM, CRLF, trailing spaces and blank lines at the end;
    strict about empty or duplicate names in the middle (the error names the line)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise CodesError(source, "no class names (the file is empty)")
    seen: dict[str, int] = {}
    for number, name in enumerate(lines, start=1):
        if not name:
            raise CodesError(source, f"line {number} is empty; every line must name a class")
        key = name.casefold()
        if key in seen:
            raise CodesError(source, f"line {number}: class {name!r} repeats line {seen[key]}")
        seen[key] = number
    if len(lines) > 256:
        raise CodesError(source, f"{len(lines)} classes; masks are 8-bit, so at most 256 are possible")
    return lines


def read_codes(path: str | Path) -> list[str]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CodesError(path, f"cannot read class list ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodesError(path, f"not UTF-8 text (byte {exc.start})") from exc
    return parse_codes(text, path)


def write_codes(path: str | Path, names: list[str]) -> Path:
    parse_codes("\n".join(names), path)  # same validation as reading
    return atomic_write_text(path, "\n".join(names) + "\n")


def find_void(names: list[str]) -> int | None:
    """Index of the Void/unlabelled class, or None when the classes have none."""
    for index in range(len(names) - 1, -1, -1):
        if names[index].strip().casefold() in VOID_NAMES:
            return index
    return None


# ---- the class list a mask was made with (its stamp's "codes") ------------------------------------
def codes_tag(names: list[str]) -> str:
    """``"N:HASH"``: how many classes, and the SHA-256 (16 hex digits) of their names in order. New
    stamps carry it (``"codes"``), so a mask copied into a project with another list is found."""
    digest = hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()[:16]
    return f"{len(names)}:{digest}"


def tag_fits(tag: object, names: list[str]) -> bool | None:
    """Whether a stamp's ``codes`` tag fits the list ``names`` (the list it was made with, or that list
    with classes added at the end); None when the stamp has no (readable) tag: older stamps have none."""
    if not isinstance(tag, str) or ":" not in tag:
        return None
    count, _, _ = tag.partition(":")
    try:
        n = int(count)
    except ValueError:
        return None
    return n <= len(names) and codes_tag(names[:n]) == tag


def _lines(names: list[str], items) -> str:
    return ", ".join(f"{name!r} (line {names.index(name) + 1})" for name in items)


def describe_change(old: list[str], new: list[str]) -> tuple[str, str] | None:
    """(what changed from ``old`` to ``new``, the ``labeltool classes`` operation that does it on
    purpose), or None when nothing that changes a mask's meaning did (the same list, or classes added
    at the end)."""
    if new[:len(old)] == old:
        return None
    gone = [n for n in old if n not in new]
    came = [n for n in new if n not in old]
    if not gone and not came:
        moved = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        if len(moved) == 2:
            what = f"{old[moved[0]]} and {old[moved[1]]} swapped places (lines {moved[0] + 1} and {moved[1] + 1})"
        else:
            movers = _moved(old, new)
            what = "the classes were reordered: " + ", ".join(
                f"{old[i]} moved from line {i + 1} to line {new.index(old[i]) + 1}" for i in movers[:4])
            what += " and more" if len(movers) > 4 else ""
        return what, "reorder " + " ".join(_quote(n) for n in new)
    if len(gone) == len(came) and all(new[old.index(g)] == c for g, c in zip(gone, came, strict=True)):
        what = "; ".join(f"{g} (line {old.index(g) + 1}) is now called {c}" for g, c in zip(gone, came, strict=True))
        op = " and ".join(f"rename {_quote(g)} {_quote(c)}" for g, c in zip(gone, came, strict=True))
        return what, op
    parts = []
    if gone:
        parts.append(f"{_lines(old, gone)} {'was' if len(gone) == 1 else 'were'} removed")
    if came:
        parts.append(f"{_lines(new, came)} {'was' if len(came) == 1 else 'were'} added, not at the end")
    if [n for n in old if n in new] != [n for n in new if n in old]:
        parts.append("classes were reordered")
    if gone:
        void = find_void(new)
        into = new[void] if void is not None else "CLASS"
        return "; ".join(parts), f"merge {' '.join(_quote(g) for g in gone)} --into {_quote(into)}"
    return "; ".join(parts), (f"add {_quote(came[0])} (it is added at the end), then reorder"
                              if came else "reorder")


def _moved(old: list[str], new: list[str]) -> list[int]:
    """Old indices of the fewest classes whose moves explain the new order (those outside the longest
    run that kept its relative order)."""
    where = [new.index(name) for name in old]
    best: list[list[int]] = []
    for i, w in enumerate(where):
        chain = max((c for c in best if where[c[-1]] < w), key=len, default=[])
        best.append([*chain, i])
    keep = set(max(best, key=len, default=[]))
    return [i for i in range(len(old)) if i not in keep]


def _quote(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else repr(name)

"""codes.txt: one class name per line, the line number is the class index (fastai's CamVid layout)."""

from __future__ import annotations

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

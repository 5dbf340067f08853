"""The dataset layout, in one place: where images, masks and split lists are, and what counts as an image.

``images/NAME.<image suffix>`` (or a flat folder of images), ``labels/NAME_P.png``, ``codes.txt``,
``valid.txt`` and ``test.txt`` (one image file name per line, relative to ``images/`` as fastai's
``FileSplitter`` reads it, or a bare name). ``Project``, ``check``, ``export`` and ``split`` all read the
layout through these functions, so they agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from model.errors import DatasetError, LabeltoolError
from model.images.imageio import IMAGE_SUFFIXES, MASK_SUFFIX

LIST_FILES = {"valid": "valid.txt", "test": "test.txt"}
UNCHECKED_FILE = "unchecked.list"  # an export's marks of the masks nobody checked (model.datasets.unchecked)


def images_dir(root: Path) -> Path:
    """``images/`` when present, else the folder itself (a flat folder of images)."""
    return root / "images" if (root / "images").is_dir() else root


def labels_dir(root: Path) -> Path:
    return root / "labels"


def label_path(root: Path, name: str) -> Path:
    return labels_dir(root) / f"{name}{MASK_SUFFIX}"


def is_image_file_name(file_name: str, flat: bool) -> bool:
    """An image to label: a known image suffix, not hidden, and (in a flat folder) not a mask."""
    if file_name.startswith("."):
        return False
    stem, dot, suffix = file_name.rpartition(".")
    if not dot or not stem or f".{suffix.lower()}" not in IMAGE_SUFFIXES:
        return False
    return not (flat and file_name.endswith(MASK_SUFFIX))


class ImageMap(Mapping[str, Path]):
    """name (stem) -> image file, in name order. Holds plain path strings and makes a Path only when one
    is asked for: at 100,000 images, building every Path up front cost more than the folder scan."""

    def __init__(self) -> None:
        self._files: dict[str, str] = {}

    def __getitem__(self, name: str) -> Path:
        return Path(self._files[name])

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def file_name(self, name: str) -> str:
        return os.path.basename(self._files[name])

    def add(self, name: str, path: str) -> None:
        self._files[name] = path

    def sort(self) -> None:
        self._files = dict(sorted(self._files.items()))


@dataclass
class ImageScan:
    images: ImageMap = field(default_factory=ImageMap)  # name (stem) -> file, sorted by name
    problems: list[LabeltoolError] = field(default_factory=list)


def scan_images(folder: Path, flat: bool, into: ImageScan | None = None) -> ImageScan:
    """Every image in ``folder`` by name (one ``os.scandir``, no per-file stat for regular files).
    Broken or looping symbolic links and two files with one name are problems, each naming the file."""
    scan = into if into is not None else ImageScan()
    if not folder.is_dir():
        return scan
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            if not is_image_file_name(entry.name, flat):
                continue
            try:
                is_file = entry.is_file()  # follows links: False for a dangling or looping link
            except OSError:
                is_file = False
            if not is_file:
                if entry.is_symlink():
                    scan.problems.append(DatasetError(Path(entry.path), "a symbolic link that leads to no file "
                                                                        "(broken or looping)"))
                continue
            entries.append((entry.name.rpartition(".")[0], entry.name, entry.path))
    entries.sort()
    for name, _file_name, path in entries:
        if name in scan.images:
            scan.problems.append(DatasetError(Path(path), f"same image name as {scan.images.file_name(name)}; "
                                                          "names must be unique whatever the suffix"))
            continue
        scan.images.add(name, path)
    if into is not None:
        scan.images.sort()
    return scan


def scan_labels(root: Path) -> dict[str, os.stat_result]:
    """name -> stat of ``labels/NAME_P.png`` for every mask file present (one scandir + one stat each)."""
    folder = labels_dir(root)
    found: dict[str, os.stat_result] = {}
    if not folder.is_dir():
        return found
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name.startswith(".") or not entry.name.endswith(MASK_SUFFIX):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            found[entry.name[: -len(MASK_SUFFIX)]] = st
    return found


class SplitListError(DatasetError):
    """A problem in ``valid.txt``/``test.txt``: a line that names no image, an unreadable or non-UTF-8 file.
    Training never proceeds on a partially read list (a test image could be trained on), so
    :func:`split_list_names` raises it; read-only views (``labeltool check``) list every problem instead."""

    def __init__(self, path: str | Path, detail: str, line: int | None = None):
        self.detail, self.line = detail, line
        super().__init__(path, detail)


def read_split_list(path: Path, images: ImageMap) -> tuple[list[str], list[SplitListError]]:
    """Image names listed in ``valid.txt``/``test.txt``, in file order, and the problems of the list, each
    naming the file and line. A line is a file name relative to the images folder (fastai) or a bare name;
    a line ``a.png`` when the image is ``a.jpg`` is a problem (fastai would not match it), never a silent
    match. A missing file is an empty list; a list that exists but cannot be read (unreadable, not UTF-8,
    a link leading nowhere) is a problem, never an empty list."""
    if not path.exists() and not path.is_symlink():
        return [], []
    if not path.exists():
        return [], [SplitListError(path, "a symbolic link that leads to no file (broken or looping)")]
    names: list[str] = []
    problems: list[SplitListError] = []
    try:
        rows = read_list(path)
    except DatasetError as exc:
        return [], [SplitListError(path, str(exc).removeprefix(f"{path}: "), getattr(exc, "line", None))]
    by_file = {images.file_name(n): n for n in images}
    for line, fields in rows:
        try:
            entry = relative_entry(" ".join(fields), None, line)
        except DatasetError as exc:
            problems.append(SplitListError(path, str(exc), line))
            continue
        if entry.name in by_file:
            name = by_file[entry.name]
        elif entry.name in images:
            name = entry.name
        else:
            other = images.get(entry.stem)
            hint = f" ({other.name} exists; fastai matches whole file names)" if other else ""
            problems.append(SplitListError(path, f"line {line}: {entry} is not an image of this dataset{hint}", line))
            continue
        if name not in names:
            names.append(name)
    return names, problems


def split_list_names(path: Path, images: ImageMap) -> list[str]:
    """The strict reader training uses: the names of :func:`read_split_list`, or :class:`SplitListError`
    naming the file and the first bad line (and how many more there are) when the list has any problem."""
    names, problems = read_split_list(path, images)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s) in this file; `labeltool check` lists them all)" \
            if len(problems) > 1 else ""
        raise SplitListError(path, f"{first.detail}{more}. Nothing is trained or measured while a split list has "
                                   "a problem (its images could be trained on): fix or remove the line", first.line)
    return names


def unchecked_marks(root: Path, warnings: list[str]) -> Callable[[str], str | None] | None:
    """An export's ``unchecked.list`` at the dataset root, as the status rule's verdict on masks without a
    labeltool stamp (a greyscale export carries none): "unknown" for a listed name (never trained on until
    a person accepts it), for every unstamped mask when the list cannot be read (fail closed), else None.
    None when there is no list."""
    path = root / UNCHECKED_FILE
    if not path.exists() and not path.is_symlink():
        return None
    try:
        listed = {" ".join(fields) for _, fields in read_list(path)}
    except DatasetError as exc:
        warnings.append(f"{exc}; so every mask without a labeltool stamp counts as unknown (never trained on)")
        return lambda name: "unknown"
    listed |= {entry.rsplit(".", 1)[0] for entry in listed}
    return lambda name: "unknown" if name in listed else None


def split_list_problems(root: Path, images: ImageMap) -> list[str]:
    """What :func:`split_list_names` would refuse in each split list of ``root``, as messages (for the app
    to show on open, before a retrain stops on it)."""
    problems = []
    for file in LIST_FILES.values():
        try:
            split_list_names(root / file, images)
        except SplitListError as exc:
            problems.append(str(exc))
    return problems


def relative_entry(entry: str, source: str | Path | None, line: int) -> PurePosixPath:
    """A list-file entry as a relative path that stays inside the dataset (``/x/y`` counts as ``x/y``).

    ``..`` anywhere, a drive letter or an empty entry is an error naming the list file and line.
    """
    text = entry.strip().replace("\\", "/")
    if len(text) > 1 and text[1] == ":":
        raise DatasetError(source, f"line {line}: {entry!r} is a drive path; entries must be inside the dataset")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if not parts:
        raise DatasetError(source, f"line {line}: empty entry")
    if ".." in parts:
        raise DatasetError(source, f"line {line}: {entry!r} leads out of the dataset ('..' is not allowed)")
    return PurePosixPath(*parts)


def read_list(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank lines of a list file as (line number, whitespace-separated fields); BOM and CRLF are fine."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(path, f"cannot read ({exc.strerror or exc})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        error = DatasetError(path, f"line {line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8")
        error.line = line  # type: ignore[attr-defined]
        raise error from exc
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            rows.append((number, fields))
    return rows


# The sequence prefix before the first "_" or "-": 0016E5_07959 -> 0016E5, Seq05VD_f00000 -> Seq05VD.
DEFAULT_GROUP_REGEX = r"^(.+?)[_-]"
# The project setting that names a project's sequences (model.project get_setting/set_setting): a regex as
# above, or "" for "these images are independent photos, no sequences". Unset: DEFAULT_GROUP_REGEX. Read by
# `labeltool split`, the automatic hold-out and neighbour proposals (model.inference.propagate), all through
# project_group_regex, so the three never disagree on what a sequence is.
SEQUENCE_SETTING = "sequence_regex"
def group_of(name: str, pattern: re.Pattern) -> str:
    """The first capture group of the pattern (or the whole match); the name itself when it does not match."""
    match = pattern.search(name)
    if match is None:
        return name
    return match.group(1) if pattern.groups and match.group(1) is not None else match.group(0)


def project_group_regex(project) -> str | None:
    """The project's sequence regex (its ``sequence_regex`` setting, else DEFAULT_GROUP_REGEX); None when the
    setting is "" (independent photos: no name forms a sequence). DatasetError for a bad regex."""
    getter = getattr(project, "get_setting", None)
    value = getter(SEQUENCE_SETTING, None) if getter is not None else None
    if value is None:
        return DEFAULT_GROUP_REGEX
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise DatasetError(None, f"the project's {SEQUENCE_SETTING} setting {value!r} is not a regular expression "
                                 f"({exc})") from exc
    return value

"""A labelling project: a folder in the CamVid/fastai layout plus a small state file.

Layout: ``images/NAME.(png|jpg)`` (or a flat folder of images), ``labels/NAME_P.png``, ``codes.txt``,
optional ``valid.txt``. Per-image status ("none", "proposed", "corrected") lives in
``.labeltool/project.json``, never in file names. The mask file on disk is the truth: a status whose
mask file has gone is "none"; a mask present when the folder is first opened, or one that changed on
disk after labeltool last wrote it, counts as "corrected" (a person or another tool made it).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

import numpy as np

from .atomic import atomic_write_text
from .codes import find_void, read_codes, write_codes
from .errors import DatasetError, MaskError
from .imageio import IMAGE_SUFFIXES, MASK_SUFFIX, image_size, read_mask, write_mask
from .palette import default_palette, validate_palette

try:  # POSIX file lock so the app and a `labeltool predict` in a terminal do not lose each other's updates
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

STATUSES = ("none", "proposed", "corrected")
STATE_DIR = ".labeltool"
STATE_FILE = "project.json"


class NeedsCodesError(DatasetError):
    """The folder has no codes.txt: the user must say which classes to label."""


class Project:
    def __init__(self, root: Path, codes: list[str]):
        self.root = root
        self.codes = codes
        self.void_index = find_void(codes)
        self.images_dir = root / "images" if (root / "images").is_dir() else root
        self.labels_dir = root / "labels"
        self.state_dir = root / STATE_DIR
        self.models_dir = root / "models"
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._images = self._scan_images()
        self._state = self._load_state()
        self._remove_stale_temporaries()

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | Path, codes: list[str] | None = None) -> Project:
        """Open a dataset folder. ``codes`` creates codes.txt when the folder has none."""
        root = Path(root).expanduser().resolve()
        if not root.is_dir():
            raise DatasetError(root, "no such folder")
        codes_path = root / "codes.txt"
        if codes_path.exists():
            names = read_codes(codes_path)
        elif codes is not None:
            write_codes(codes_path, codes)
            names = list(codes)
        else:
            raise NeedsCodesError(codes_path, "missing; say which classes to label (one name per line)")
        return cls(root, names)

    def _scan_images(self) -> dict[str, Path]:
        images: dict[str, Path] = {}
        if not self.images_dir.is_dir():
            return images
        for path in sorted(self.images_dir.iterdir()):
            if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
                continue
            if path.name.endswith(MASK_SUFFIX):
                continue  # a mask lying in a flat folder is not an image to label
            name = path.stem
            if name in images:
                self.warnings.append(f"{path}: same name as {images[name].name}; using {images[name].name}")
                continue
            images[name] = path
        return images

    def _remove_stale_temporaries(self, older_than_s: float = 60.0) -> None:
        """Temporary files of an atomic write that a killed process left behind (never a live write's)."""
        now = time.time()
        for folder in (self.labels_dir, self.state_dir / "confidence"):
            for tmp in folder.glob(".*.tmp*") if folder.is_dir() else ():
                with contextlib.suppress(OSError):
                    if now - tmp.stat().st_mtime > older_than_s:
                        tmp.unlink()

    # ---- files ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._images)

    def image_path(self, name: str) -> Path:
        try:
            return self._images[name]
        except KeyError:
            raise DatasetError(self.images_dir / name, "no such image in this project") from None

    def label_path(self, name: str) -> Path:
        return self.labels_dir / f"{name}{MASK_SUFFIX}"

    def confidence_path(self, name: str) -> Path:
        return self.state_dir / "confidence" / f"{name}.png"

    def valid_names(self) -> set[str]:
        return self._read_list("valid.txt")

    def test_names(self) -> set[str]:
        return self._read_list("test.txt")

    def _read_list(self, filename: str) -> set[str]:
        path = self.root / filename
        if not path.exists():
            return set()
        text = path.read_text(encoding="utf-8-sig")
        return {Path(line.strip().replace("\\", "/")).stem for line in text.splitlines() if line.strip()}

    # ---- palette -------------------------------------------------------------------------------
    @property
    def palette(self) -> np.ndarray:
        saved = self._state.get("palette")
        if saved is not None:
            try:
                return validate_palette(saved, len(self.codes))
            except ValueError:
                warning = f"{self._state_path()}: saved palette does not fit codes.txt; using defaults"
                if warning not in self.warnings:  # read on every save: say it once
                    self.warnings.append(warning)
        return default_palette(self.codes)

    def set_palette(self, palette: np.ndarray) -> None:
        colours = validate_palette(palette, len(self.codes))
        self._update_state(lambda state: state.__setitem__("palette", colours.tolist()))

    # ---- status --------------------------------------------------------------------------------
    def status(self, name: str) -> str:
        path = self.label_path(name)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            return "none"
        record = self._state["images"].get(name)
        if record is None or record.get("mtime_ns") != mtime:
            return "corrected"  # present at first open, or changed on disk by a person or another tool
        return record.get("status", "corrected")

    def statuses(self) -> dict[str, str]:
        return {name: self.status(name) for name in self._images}

    def corrected_names(self) -> list[str]:
        return [name for name in self._images if self.status(name) == "corrected"]

    def set_status(self, name: str, status: str) -> None:
        """Record a status for an existing mask file (e.g. accepting a proposal marks it corrected)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        self.image_path(name)
        path = self.label_path(name)
        if status == "none":
            self._update_state(lambda state: state["images"].pop(name, None))
            return
        if not path.exists():
            raise MaskError(path, f"cannot mark as {status}: the mask file does not exist")
        self._record(name, status, path.stat().st_mtime_ns)

    # ---- masks ---------------------------------------------------------------------------------
    def load_mask(self, name: str) -> np.ndarray | None:
        path = self.label_path(name)
        if not path.exists():
            return None
        return read_mask(path, len(self.codes), expected_size=image_size(self.image_path(name)))

    def save_mask(self, name: str, mask: np.ndarray, status: str = "corrected") -> Path:
        """Write ``labels/NAME_P.png`` atomically and record its status.

        A proposal never replaces a corrected mask: saving with status "proposed" over a corrected
        mask raises and leaves the file untouched.
        """
        if status not in ("proposed", "corrected"):
            raise ValueError(f"a saved mask is 'proposed' or 'corrected', not {status!r}")
        path = self.label_path(name)
        width, height = image_size(self.image_path(name))
        mask = np.asarray(mask)
        if mask.shape != (height, width):
            raise MaskError(path, f"mask shape {mask.shape[1]}x{mask.shape[0]} does not match its image "
                                  f"{width}x{height}")
        if mask.size and int(mask.max()) >= len(self.codes):
            raise MaskError(path, f"class index {int(mask.max())} is not in codes.txt ({len(self.codes)} classes)")
        with self._lock:
            if status == "proposed" and self.status(name) == "corrected":
                raise MaskError(path, "has a corrected mask; a proposal never overwrites it")
            write_mask(path, mask, self.palette)
            self._record(name, status, path.stat().st_mtime_ns)
        return path

    # ---- state file ----------------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.state_dir / STATE_FILE

    def _read_state_file(self) -> dict | None:
        path = self._state_path()
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.warnings.append(f"{path}: unreadable ({exc}); statuses are rebuilt from the mask files")
            return None
        if not isinstance(state, dict) or not isinstance(state.get("images"), dict):
            self.warnings.append(f"{path}: not a labeltool state file; statuses are rebuilt from the mask files")
            return None
        return state

    def _load_state(self) -> dict:
        state = self._read_state_file()
        if state is not None:
            return state
        # First open: every mask already here came from a person or another tool -> corrected.
        state = {"version": 1, "images": {}}
        for name in self._images:
            path = self.label_path(name)
            if path.exists():
                state["images"][name] = {"status": "corrected", "mtime_ns": path.stat().st_mtime_ns}
        self._state = state
        self._update_state(lambda s: None)
        return state

    def _record(self, name: str, status: str, mtime_ns: int) -> None:
        self._update_state(lambda state: state["images"].__setitem__(name, {"status": status, "mtime_ns": mtime_ns}))

    def _update_state(self, change) -> None:
        """Read-modify-write of project.json under a file lock, so concurrent writers keep each other's work."""
        with self._lock, self._file_lock():
            state = self._read_state_file() or self._state
            change(state)
            self.state_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self._state_path(), json.dumps(state, indent=1, sort_keys=True))
            self._state = state

    @contextlib.contextmanager
    def _file_lock(self):
        if fcntl is None:
            yield
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

"""A labelling project: a folder in the CamVid/fastai layout, its mask files and their record.

Layout (see :mod:`model.project.layout`): ``images/NAME.<suffix>`` (or a flat folder of images),
``labels/NAME_P.png``, ``codes.txt``, optional ``valid.txt`` and ``test.txt``.

Statuses (:data:`STATUSES`; the rule is :func:`model.project.status.decide`): ``none`` (no mask file),
``proposed`` (a model's stamp whose pixels are still the model's), ``edited`` (a person's work saved
without being checked: never trained on, never overwritten by proposals), ``corrected`` (a person's
checked mask, or a mask without any labeltool stamp: another tool, an import; the only masks trained
on, with ``reviewed``), ``reviewed``/``rejected`` (a reviewer approved it, or sent it back with a note:
:mod:`model.project.review`) and ``unknown`` (a model's stamp whose pixels changed, an unreadable stamp, a labeltool 0.1 leftover;
never trained on; Accept makes it corrected). The proof lives in the mask file itself
(:mod:`model.project.provenance`), so copies keep it; ``.labeltool/record.sqlite`` (:mod:`model.project.record`) is the
index that makes every question O(1) and holds what the files cannot: confidence, who and when.
labeltool 0.1's record is read by :mod:`model.project.legacy`; kept proposals and removed masks by :mod:`model.project.kept`.

Every write of a mask happens under one inter-process lock (``.labeltool/lock``) together with the
check that decides whether it may happen, so a ``labeltool predict`` in a terminal and the app never
overwrite each other's work.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from model.atomic import atomic_write_bytes
from model.errors import DatasetError, MaskError
from model.filelock import flocked  # the app, its worker threads and terminal commands take turns writing masks
from model.images.imageio import encode_mask, image_size, mask_shape_problem, read_mask

from . import layout
from .class_journal import check_codes, finish_interrupted, remember_codes, same_codes
from .codes import codes_tag, find_void, read_codes, write_codes
from .housekeeping import remove_stale_temporaries
from .identity import annotator
from .kept import SAVED, StatusActions, drop_kept, keep_proposal
from .legacy import migrate_legacy_state
from .palette import default_palette, validate_palette
from .provenance import array_hash, person_info, stamp
from .record import DB_FILE, ImageRecord, Record, now_iso
from .review import ReviewActions
from .status import KEPT, STATE_DIR, TRAINED, reconcile, row_matches, stat_values, trained_statuses, verify_mask_file


class NeedsCodesError(DatasetError):
    """The folder has no codes.txt: the user must say which classes to label."""


class ProposalRefused(MaskError):
    """A proposal was not written because the image has a correction or is open in an editor."""


def current_user() -> str:
    """The name written in a person's stamp and the record's corrected_by: :func:`model.project.identity.annotator`
    (kept under this name for its callers)."""
    return annotator()


class Project(StatusActions, ReviewActions):
    writable = True  # False when the record cannot be written (a read-only folder)
    def __init__(self, root: Path, codes: list[str]):
        self.root = root
        self.codes = codes
        self.void_index = find_void(codes)
        self.images_dir = layout.images_dir(root)
        self.labels_dir = layout.labels_dir(root)
        self.state_dir = root / STATE_DIR
        self.models_dir = root / "models"
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._lock_depth = threading.local()
        self._palette: np.ndarray | None = None
        for folder in (self.state_dir, self.labels_dir):
            if folder.exists() and not folder.is_dir():
                raise DatasetError(folder, "is a file, but labeltool needs a folder of that name here; "
                                           "move the file away and open the dataset again")
        scan = layout.scan_images(self.images_dir, flat=self.images_dir == root)
        self._images = scan.images
        self.warnings += [str(p) for p in scan.problems]
        self.db = self._open_record()
        self.warnings += self.db.warnings
        self.warnings += migrate_legacy_state(self.db, self.root, self.state_dir, self.names(), self.writable)
        self._marks = layout.unchecked_marks(root, self.warnings)  # an export's masks nobody checked
        # the open's file check, reused by the first records() while nothing was written since
        self._just_opened: tuple[dict[str, str], Any] | None = (self._reconcile(), self.db.get_meta("serial", 0))
        self._remove_stale_temporaries()

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | Path, codes: list[str] | None = None) -> Project:
        """Open a dataset folder. ``codes`` creates codes.txt when the folder has none."""
        root = Path(root).expanduser().resolve()
        if not root.is_dir():
            raise DatasetError(root, "no such folder")
        notes = finish_interrupted(root)  # a class-list change a crash interrupted: finished or undone
        codes_path = root / "codes.txt"
        if codes_path.exists():
            names = read_codes(codes_path)
        elif codes is not None:
            names = list(codes)
        else:
            raise NeedsCodesError(codes_path, "missing; say which classes to label (one name per line)")
        check_codes(root, names)  # a reordered/renamed list would relabel every mask: refused, nothing written
        if not codes_path.exists():
            write_codes(codes_path, names)
        return remember_codes(cls(root, names), notes)  # the record remembers the list it opened with

    def _open_record(self) -> Record:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            record = Record(self.state_dir / DB_FILE)
            record.set_meta("opened_at", now_iso())  # proves the folder is writable
            return record
        except Exception as exc:  # OSError or sqlite3.OperationalError: a read-only folder or file system
            if isinstance(exc, DatasetError):
                raise
            self.writable = False
            self.warnings.append(f"{self.state_dir / DB_FILE}: cannot be written ({exc}); the dataset opens "
                                 "read-only: statuses come from the mask files and nothing can be saved")
            return Record(None)

    def _remove_stale_temporaries(self) -> None:
        with contextlib.suppress(OSError):
            remove_stale_temporaries(self.root)

    # ---- files ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._images)

    def image_path(self, name: str) -> Path:
        try:
            return self._images[name]
        except KeyError:
            raise DatasetError(self.images_dir / name, "no such image in this project") from None

    def label_path(self, name: str) -> Path:
        return layout.label_path(self.root, name)

    def confidence_path(self, name: str) -> Path:
        return self.state_dir / "confidence" / f"{name}.png"

    def valid_names(self) -> set[str]:
        """Images listed in valid.txt; layout.SplitListError (naming the file and line) when the list has
        any problem: nothing is trained or measured on a partly read list."""
        return set(self._split_list("valid"))

    def test_names(self) -> set[str]:
        """Images listed in test.txt; layout.SplitListError when the list has any problem (see valid_names)."""
        return set(self._split_list("test"))

    def _split_list(self, subset: str) -> list[str]:
        return layout.split_list_names(self.root / layout.LIST_FILES[subset], self._images)

    def split_list_problems(self) -> list[str]:
        """What valid_names/test_names would refuse, as messages naming file and line, without raising."""
        return layout.split_list_problems(self.root, self._images)

    def rescan(self) -> tuple[list[str], list[str]]:
        """Look at the images folder again: (names added, names removed) since the last scan."""
        scan = layout.scan_images(self.images_dir, flat=self.images_dir == self.root)
        added = [n for n in scan.images if n not in self._images]
        removed = [n for n in self._images if n not in scan.images]
        self._images = scan.images
        if added:
            self._reconcile(added)
        return added, removed

    # ---- palette and settings ------------------------------------------------------------------
    @property
    def palette(self) -> np.ndarray:
        if self._palette is None:
            saved = self.db.get_meta("palette")
            palette = None
            if saved is not None:
                try:
                    palette = validate_palette(saved, len(self.codes))
                except (ValueError, TypeError):
                    warning = f"{self.state_dir / DB_FILE}: saved palette does not fit codes.txt; using defaults"
                    if warning not in self.warnings:
                        self.warnings.append(warning)
            self._palette = palette if palette is not None else default_palette(self.codes)
        return self._palette

    def set_palette(self, palette: np.ndarray) -> None:
        colours = validate_palette(palette, len(self.codes))
        self.db.set_meta("palette", colours.tolist())
        self._palette = colours

    def get_setting(self, key: str, default: Any = None) -> Any:
        return self.db.get_meta(f"setting:{key}", default)

    def set_setting(self, key: str, value: Any) -> None:
        json.dumps(value)  # settings are JSON values
        self.db.set_meta(f"setting:{key}", value)

    # ---- status --------------------------------------------------------------------------------
    def _verify(self, path: Path, row, name: str) -> tuple[str, str | None]:
        return verify_mask_file(path, row, self.warnings, self._marks(name) if self._marks else None)

    def status(self, name: str) -> str:
        """The image's status, from the record when the mask file is unchanged since, else from the file."""
        path = self.label_path(name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return "none"
        row = self.db.get(name)
        if row_matches(row, st):
            return row.status
        status, pixels = self._verify(path, row, name)
        self._remember(name, status=status, **stat_values(st), pixels=pixels)
        return status

    def _remember(self, name: str, **values: Any) -> None:
        with contextlib.suppress(Exception):  # a read-only record cannot remember; the files still decide
            self.db.put(name, **values)

    def _reconcile(self, names: list[str] | None = None) -> dict[str, str]:
        """Statuses of ``names`` (default all), checking every mask file's stat against the record and
        re-reading only the files that changed; the record is updated in one transaction."""
        marks = self._marks
        statuses, updates = reconcile(self.root, self._images if names is None else names, self.db.stats(),
                                      self.warnings, (lambda name, _st: marks(name)) if marks else None)
        if updates:
            with contextlib.suppress(Exception):
                self.db.put_many(updates)
        return statuses

    def statuses(self) -> dict[str, str]:
        return self._reconcile()

    def record(self, name: str) -> ImageRecord:
        """The image's record with its current status."""
        status = self.status(name)
        row = self.db.get(name) or ImageRecord(name)
        row.status = status
        return row

    def records(self) -> dict[str, ImageRecord]:
        """Every image's record with its current status (right after opening, the open's file check is
        reused instead of repeated)."""
        opened, self._just_opened = self._just_opened, None
        fresh = opened is not None and self.db.get_meta("serial", 0) == opened[1]
        statuses = opened[0] if fresh else self._reconcile()
        rows = self.db.all()
        out = {}
        for name in self._images:
            row = rows.get(name) or ImageRecord(name)
            row.status = statuses[name]
            out[name] = row
        return out

    def corrected_names(self, statuses: tuple[str, ...] = TRAINED) -> list[str]:
        """Images whose mask a person checked and no reviewer rejected (corrected or reviewed)."""
        now = self._reconcile()
        return [name for name in self._images if now[name] in statuses]

    def training_names(self) -> tuple[list[str], list[str]]:
        """(images to train on, images to validate on): corrected and reviewed masks (only reviewed ones
        when the setting ``train_only_reviewed`` is true); test.txt images are never in either; valid.txt
        images are never trained on. layout.SplitListError (naming the file and line) when either list has
        a problem: training never proceeds on a partly read list."""
        corrected = self.corrected_names(trained_statuses(bool(self.get_setting("train_only_reviewed", False))))
        valid, test = self.valid_names(), self.test_names()
        train = [n for n in corrected if n not in valid and n not in test]
        val = [n for n in corrected if n in valid and n not in test]
        return train, val

    def changed_since(self, serial: int) -> tuple[int, list[str]]:
        """Names whose record changed (in any process) since ``serial``, and the new serial."""
        return self.db.changed_since(serial)

    # ---- locking -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """This process's threads take turns (RLock); the outermost holder also takes the file lock
        that other processes (a terminal `labeltool predict`, a second window) honour."""
        with self._lock:
            depth = getattr(self._lock_depth, "n", 0)
            self._lock_depth.n = depth + 1
            try:
                if depth:
                    yield
                    return
                if not self.writable:  # no lock can be taken: nothing is written outside it
                    raise DatasetError(self.state_dir, "cannot be written, so the dataset opened read-only; "
                                                       "nothing was saved. Make the folder writable and open it "
                                                       "again")
                with flocked(self.state_dir / "lock"):
                    yield
            finally:
                self._lock_depth.n = depth

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many saves in one lock and one database transaction (a proposal run's chunk)."""
        with self._write_lock(), self.db.transaction():
            yield

    def hold(self, name: str) -> None:
        """Mark the image as open in an editor: proposals (of any process) leave it alone."""
        with contextlib.suppress(Exception):
            self.db.hold(name)

    def release(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.db.release(name)

    def is_held(self, name: str) -> bool:
        return self.db.held(name)

    # ---- masks ---------------------------------------------------------------------------------
    def load_mask(self, name: str) -> np.ndarray | None:
        path = self.label_path(name)
        if not path.exists():
            return None
        return read_mask(path, len(self.codes), expected_size=image_size(self.image_path(name)))

    def _checked(self, name: str, mask: np.ndarray) -> np.ndarray:
        path = self.label_path(name)
        width, height = image_size(self.image_path(name))
        mask = np.asarray(mask)
        problem = mask_shape_problem(mask, width, height)
        if problem:
            raise MaskError(path, problem)
        if mask.size and int(mask.max()) >= len(self.codes):
            raise MaskError(path, f"class index {int(mask.max())} is not in codes.txt ({len(self.codes)} classes)")
        return mask

    def save_mask(self, name: str, mask: np.ndarray, status: str = "corrected", *, model: str | None = None,
                  summary: dict[str, float] | None = None, guard: Callable[[], None] | None = None,
                  unpainted: np.ndarray | None = None) -> Path:
        """Write ``labels/NAME_P.png`` atomically, with its provenance inside, and record it.

        ``status="proposed"`` (a model's proposal, ``model`` naming it, ``summary`` its confidence
        figures) is refused with :class:`ProposalRefused`, leaving the file untouched, when the mask on
        disk is a person's (edited or corrected) or of unknown origin, or the image is open in an editor.
        ``"edited"`` is a person's work saved without being checked (``unpainted``: the bool H x W map of
        pixels nobody painted, kept in its stamp); ``"corrected"`` a person's checked mask. A person's save
        over a proposal first keeps the proposal (``has_kept_proposal``; ``set_status(name, "proposed")``).
        ``guard`` runs under the write lock right before the write (raise to abort). The checks and the
        write happen under one inter-process lock.
        """
        if status not in SAVED:
            raise ValueError(f"a saved mask is one of {SAVED}, not {status!r}")
        path = self.label_path(name)
        mask = self._checked(name, mask)
        unpainted = self._unpainted_checked(path, mask, status, unpainted)
        png = encode_mask(mask, self.palette, path)
        now = now_iso()
        if status == "proposed":
            png = stamp(png, {"source": "model", "model": model or "unknown", "at": now,
                              "codes": codes_tag(self.codes)}, with_pixels=True, pixels=mask)
            values: dict[str, Any] = {"model": model, "proposed_at": now, "corrected_by": None, "corrected_at": None,
                                      "mean_confidence": None, "unsure_fraction": None, "entropy": None,
                                      "margin": None}
            for key, value in (summary or {}).items():
                if key in ("mean_confidence", "unsure_fraction", "entropy", "margin"):
                    values[key] = None if value is None else float(value)
        else:
            user = current_user()
            png = stamp(png, {**person_info(user, now, checked=status == "corrected", unpainted=unpainted),
                              "codes": codes_tag(self.codes)})
            values = {"corrected_by": user, "corrected_at": now}
        with self._write_lock():
            same_codes(self)  # another process changed the class list since this one opened: refused
            current = self.status(name)
            if status == "proposed":
                hold = self.db.holder(name)  # names the machine and since when
                if hold is not None:
                    raise ProposalRefused(path, f"is {hold.describe()}; the proposal was not written")
                if current in KEPT:
                    raise ProposalRefused(path, f"has {'an' if current[0] in 'eu' else 'a'} {current} mask; "
                                                "a proposal never overwrites it")
            if guard is not None:
                guard()
            try:
                if status == "proposed":
                    drop_kept(self.state_dir, name)
                elif current == "proposed":
                    keep_proposal(self.state_dir, name, path)  # for "Revert to proposal"
                atomic_write_bytes(path, png)
                st = path.stat()
            except OSError as exc:
                raise MaskError(path, f"cannot be written ({exc.strerror or exc}); nothing was changed") from exc
            self._remember(name, status=status, **stat_values(st), pixels=array_hash(mask), **values)
        return path


__all__ = ["Project", "NeedsCodesError", "ProposalRefused"]

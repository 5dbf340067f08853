"""Errors the engine raises. Every message names the file it is about."""

from __future__ import annotations

from pathlib import Path


class LabeltoolError(Exception):
    """Base class: something the user can fix, described in one clear message."""


class DatasetError(LabeltoolError):
    """A dataset file or folder is missing, unreadable or inconsistent."""

    def __init__(self, path: str | Path | None, message: str):
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


class CodesError(DatasetError):
    """codes.txt (the list of class names) is malformed."""


class ImageReadError(DatasetError):
    """An image cannot be decoded (corrupt, truncated, too large, wrong kind)."""


class MaskError(DatasetError):
    """A mask is unreadable, has the wrong size, or holds an unknown class index."""


class ModelFileError(LabeltoolError):
    """A model file is of the wrong kind, incomplete, or made for other classes."""

"""What an importer hands to the writer: classes, colours, items and how to decode their masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .native import Item, MaskReader

VALID_NAMES = ("val", "valid", "validation")


@dataclass
class ImportPlan:
    format: str
    codes: list[str]
    palette: np.ndarray
    items: list[Item]
    mask_reader: MaskReader | None
    warnings: list[str] = field(default_factory=list)


def subset_for(name: str) -> str:
    """The native split for a folder or list name: val/valid/validation -> valid, test -> test, else train."""
    key = name.casefold()
    if key in VALID_NAMES:
        return "valid"
    if key == "test":
        return "test"
    return "train"

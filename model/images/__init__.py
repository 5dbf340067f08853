"""Images and masks on disk: reading, writing, TIFF layouts, display windows, components.
A thin face (model.faces): ``from model.images import X``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.faces import lazy_face

_HOME = {
    "read_image": "imageio",
    "read_mask": "imageio",
    "read_raw": "imageio",
    "write_mask": "imageio",
}

if TYPE_CHECKING:
    from .imageio import read_image, read_mask, read_raw, write_mask


__getattr__ = lazy_face(__name__, _HOME)


__all__ = ["read_image", "read_mask", "read_raw", "write_mask"]

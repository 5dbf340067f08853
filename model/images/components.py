"""Objects of a semantic mask: the connected regions of one class (4-connected, like the fill tool).

The one rule shared by the editor's Objects panel (labeltool/editing/instances.py) and the COCO export
of instances (model/datasets/export_coco.py); it lives in the engine so the app imports it, never the
other way round.
"""

from __future__ import annotations

import numpy as np
from skimage.measure import label as _label

CONNECTIVITY = 1  # 4-neighbours (diagonal pixels are not connected), like the fill tool


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Every connected region of equal class, labelled 1..n in one pass (all classes at once), numbered
    in reading order of their first pixel."""
    labels, count = _label(np.asarray(mask), background=-1, connectivity=CONNECTIVITY, return_num=True)
    return labels, int(count)

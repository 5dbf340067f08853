"""Objects (instances) of a class in a semantic mask: the connected components of each class (no Qt).

An *object* is a 4-connected region of one class, the same region the fill tool fills, so "the object
under the cursor" is exactly what a fill click would change. Counting, outlining, picking, recolouring and
deleting work on that rule, and so does the COCO export of instances (``model/datasets/export_coco.py``).

Edits go through the label layer's history as ONE step each (like fill), so undo restores the mask
byte for byte. :func:`apply_step` is the one place that writes a computed new mask into a layer; the
cleanup tools use it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from model.images.components import CONNECTIVITY, label_components

from .brush import BBox, bbox_slices
from .history import Change
from .regions import fill_region


@dataclass(frozen=True)
class Instance:
    """One object: its class, its number within that class (1-based, in reading order of its first
    pixel), its bounding box ``(y0, x0, y1, x1)`` (exclusive ends), its area in pixels and one pixel
    inside it (``seed``, ``(y, x)``) from which it can be picked again."""

    class_index: int
    number: int
    bbox: BBox
    area: int
    seed: tuple[int, int]



def _seed(labels: np.ndarray, slices: tuple[slice, slice], number: int) -> tuple[int, int]:
    """The first pixel (reading order) of object ``number``: on the top row of its bounding box."""
    row = slices[0].start
    return row, slices[1].start + int(np.argmax(labels[row, slices[1]] == number))


def count_objects(mask: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Objects per class: an array whose entry c is the number of connected regions of class c."""
    mask = np.asarray(mask)
    labels, count = label_components(mask)
    size = max(num_classes or 0, int(mask.max(initial=0)) + 1)
    class_of = np.zeros(count + 1, dtype=np.int64)
    class_of[labels.ravel()] = mask.ravel()
    return np.bincount(class_of[1:], minlength=size)


def class_instances(mask: np.ndarray, class_index: int) -> list[Instance]:
    """The objects of one class, largest first (ties in reading order); numbers follow reading order."""
    mask = np.asarray(mask)
    where = mask == class_index
    labels, count = ndimage.label(where, structure=ndimage.generate_binary_structure(2, CONNECTIVITY))
    if count == 0:
        return []
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    found = []
    for number, (slices, area) in enumerate(zip(ndimage.find_objects(labels), areas, strict=True), start=1):
        bbox = (slices[0].start, slices[1].start, slices[0].stop, slices[1].stop)
        found.append(Instance(int(class_index), number, bbox, int(area), _seed(labels, slices, number)))
    return sorted(found, key=lambda inst: (-inst.area, inst.number))


def instance_masks(mask: np.ndarray, class_index: int) -> Iterator[tuple[Instance, np.ndarray]]:
    """Each object of the class with its full-size boolean mask, in reading order (the COCO export)."""
    mask = np.asarray(mask)
    labels, count = ndimage.label(mask == class_index, structure=ndimage.generate_binary_structure(2, CONNECTIVITY))
    if count == 0:
        return
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    for number, slices in enumerate(ndimage.find_objects(labels), start=1):
        full = np.zeros(mask.shape, dtype=bool)
        full[slices] = labels[slices] == number
        bbox = (slices[0].start, slices[1].start, slices[0].stop, slices[1].stop)
        yield Instance(int(class_index), number, bbox, int(areas[number - 1]), _seed(labels, slices, number)), full


def object_at(mask: np.ndarray, y: int, x: int) -> tuple[BBox, np.ndarray] | None:
    """``(bbox, region)`` of the object under (y, x) (``region`` is boolean over the bbox), or None when
    the point is outside the mask."""
    mask = np.asarray(mask)
    if not (0 <= y < mask.shape[0] and 0 <= x < mask.shape[1]):
        return None
    return fill_region(mask, int(y), int(x))


def outline(region: np.ndarray) -> np.ndarray:
    """The pixels of ``region`` that touch a pixel outside it (4-neighbours), as a boolean array."""
    region = np.asarray(region, dtype=bool)
    return region & ~ndimage.binary_erosion(region, structure=ndimage.generate_binary_structure(2, 1),
                                            border_value=0)


# ------------------------------------------------------------------ edits (one undo step each)
def _tight(changed: np.ndarray, bbox: BBox) -> tuple[BBox, np.ndarray]:
    rows = np.flatnonzero(changed.any(axis=1))
    cols = np.flatnonzero(changed.any(axis=0))
    y0, x0 = bbox[0] + int(rows[0]), bbox[1] + int(cols[0])
    y1, x1 = bbox[0] + int(rows[-1]) + 1, bbox[1] + int(cols[-1]) + 1
    return (y0, x0, y1, x1), changed[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def apply_step(layer, label: str, new_mask: np.ndarray, bbox: BBox | None = None) -> Change | None:
    """Write ``new_mask`` into ``layer.mask`` as ONE undoable step named ``label``.

    ``new_mask`` covers ``bbox`` (the whole image when None). Only pixels whose class changes are
    recorded (and count as painted by a person); preserve mode does not apply (these are explicit
    whole-object / whole-image commands).
    Returns the Change for the view, or None when nothing changed."""
    if layer.history.in_transaction:
        raise ValueError("finish the current stroke before this edit")
    if bbox is None:
        bbox = (0, 0, layer.mask.shape[0], layer.mask.shape[1])
    new_mask = np.asarray(new_mask)
    crop = layer.mask[bbox_slices(bbox)]
    if new_mask.shape != crop.shape:
        raise ValueError(f"new mask is {new_mask.shape}, the region is {crop.shape}")
    if new_mask.size and int(new_mask.max()) >= layer.n_classes:
        raise ValueError(f"class index {int(new_mask.max())} is out of range 0..{layer.n_classes - 1}")
    changed = crop != new_mask
    if not changed.any():
        return None
    tight, region = _tight(changed, bbox)
    crop = layer.mask[bbox_slices(tight)]
    local = new_mask[tight[0] - bbox[0]:tight[2] - bbox[0], tight[1] - bbox[1]:tight[3] - bbox[1]]
    region = np.array(region, copy=True)
    layer.history.begin(label)
    try:
        values = local[region]
        layer.history.record(tight, region, crop[region].copy(),
                             int(values[0]) if values.size and values.min() == values.max() else None,
                             layer.touch(tight, region))
        crop[region] = values
    finally:
        change = layer.history.end(layer.mask)
    return change


def recolour_object(layer, y: int, x: int, value: int, label: str = "recolour object") -> Change | None:
    """Give the object under (y, x) the class ``value`` (one undo step)."""
    value = layer.check_class(value)
    found = object_at(layer.mask, y, x)
    if found is None:
        return None
    bbox, region = found
    new = layer.mask[bbox_slices(bbox)].copy()
    new[region] = value
    return apply_step(layer, label, new, bbox)


def delete_object(layer, y: int, x: int) -> Change | None:
    """Turn the object under (y, x) into Void (the eraser's class; class 0 without a Void class)."""
    return recolour_object(layer, y, x, layer.eraser_value, label="delete object")


__all__ = ["CONNECTIVITY", "Instance", "apply_step", "class_instances", "count_objects", "delete_object",
           "instance_masks", "label_components", "object_at", "outline", "recolour_object"]

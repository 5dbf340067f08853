"""Confidence maps beside the masks (``.labeltool/confidence/<name>.png``) and the uncertainty ranking that orders images by how unsure the last proposal was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from model.atomic import atomic_write


def read_uncertainty(project) -> dict[str, float]:
    """name -> mean confidence (0..1, lower = less certain) of the current proposal of each image."""
    return {name: rec.mean_confidence for name, rec in project.db.all().items()
            if rec.status == "proposed" and rec.mean_confidence is not None}


def uncertainty_score(rec) -> float | None:
    """How unsure the model was about an image's proposal (higher = look at it first): mean normalised
    entropy when recorded, else 1 - margin, else 1 - mean confidence; None without a proposal figure."""
    if rec.entropy is not None:
        return float(rec.entropy)
    if rec.margin is not None:
        return 1.0 - float(rec.margin)
    if rec.mean_confidence is not None:
        return 1.0 - float(rec.mean_confidence)
    return None


def rank_by_uncertainty(project) -> list[str]:
    """Images whose mask is still a proposal, least certain first (ties by name)."""
    records = project.records()
    scored = [(uncertainty_score(rec), name) for name, rec in records.items() if rec.status == "proposed"]
    return [name for score, name in sorted((-s, n) for s, n in scored if s is not None)]


def quantise_confidence(confidence: np.ndarray) -> np.ndarray:
    """The stored form of a 0..1 confidence (map or band): uint8, ``rint(confidence * 255)`` in float32, 255 =
    certain. The one rule: ``write_confidence`` applies it, and a ``Predictor`` asked for quantised confidence
    (``propose_dataset``'s) applies it band by band while making the plane, so the map never exists as floats."""
    band = np.asarray(confidence).astype(np.float32) * 255.0
    return np.clip(np.rint(band, out=band), 0, 255, out=band).astype(np.uint8)


def write_confidence(path: str | Path, confidence: np.ndarray) -> Path:
    """Store a confidence map as an 8-bit greyscale PNG (atomic): 0..1 floats are quantised
    (``quantise_confidence``) a band of rows at a time (whole, the float temporaries of a 50 MP map were
    200 MB each); a uint8 map is taken as already quantised."""
    confidence = np.asarray(confidence)
    if confidence.dtype == np.uint8:
        scaled = confidence
    else:
        scaled = np.empty(confidence.shape, dtype=np.uint8)
        for top in range(0, confidence.shape[0], 256):
            scaled[top:top + 256] = quantise_confidence(confidence[top:top + 256])
    image = Image.fromarray(scaled, mode="L")
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG", compress_level=3))


def confidence_values(confidence: np.ndarray) -> np.ndarray:
    """A confidence map as 0..1 floats: a quantised (uint8) one divided by 255, a float one as it is."""
    confidence = np.asarray(confidence)
    return confidence / np.float32(255.0) if confidence.dtype == np.uint8 else confidence


def read_confidence(path: str | Path) -> np.ndarray:
    """A stored confidence map back as (H, W) float32 in 0..1."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0

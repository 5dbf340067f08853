"""Who made a mask, written inside the mask file itself, so the record survives copies.

A mask carries a PNG ``tEXt`` chunk with the keyword ``labeltool`` whose text is JSON (the stamp):

- a model's proposal: ``{"v": 2, "source": "model", "model": NAME, "at": ISO-TIME, "pixels": SHA256,
  "data": SHA256}``. ``pixels`` is the SHA-256 of the decoded class array (its shape, then its uint8
  bytes: :func:`array_hash`), so a lossless recompression (``optipng``, ``oxipng``, a PIL re-save with
  another ``compress_level``) keeps the proof and any changed pixel breaks it. ``data`` is the SHA-256
  of the IHDR and IDAT payloads: when those bytes are unchanged the pixels are too, so checking a file
  as written needs no decode. Stamps of labeltool 0.2 (``"v": 1``) hash the IDAT payloads only; they
  are still checked that way, so their proposals on disk stay proposals.
- a person's mask: ``{"v": 2, "source": "person", "by": USER, "at": ISO-TIME, "checked": BOOL}``;
  ``"checked": false`` is work saved without being checked (*edited*), which may record the pixels
  nobody painted (``"unpainted": {"shape": [H, W], "bits": BASE64}``, zlib of ``numpy.packbits``).
  A v1 person stamp (no ``checked``) is a checked one. A reviewer's verdict on a checked mask is kept in
  the same stamp: ``"review": {"verdict": "approved"|"rejected", "by": NAME, "at": ISO-TIME, "note": TEXT,
  "pixels": SHA256}`` (:func:`review_info`); it holds only while the decoded pixels still hash to its
  ``pixels`` (:func:`review_of`), so a tool that changes the pixels and keeps the chunk cannot carry it over.

This module reads and writes the stamp and says whether a model's stamp still matches the pixels
(:attr:`Provenance.proven`); which status that makes is decided in one place,
:func:`model.project.status.decide`. Because the proof is in the file's bytes, ``cp -r``, ``scp``,
``git clone``, ``rsync`` without ``-t`` and a deleted ``.labeltool/`` all keep every proposal a proposal.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"labeltool"
HEAD_BYTES = 4096  # our chunk sits right after IHDR, so it is within the first bytes (an unpainted map may not be)
STAMP_VERSION = 2


@dataclass(frozen=True)
class Provenance:
    """What a mask file says about itself."""

    info: dict[str, Any] | None  # the labeltool chunk's JSON, None when the file has none
    proven: bool = False  # a model's stamp whose pixel proof matches the file
    pixels: str | None = None  # array_hash of the decoded file, when it was computed (or proven equal)
    idat: str | None = None  # idat_hash of the file, when it was computed

    @property
    def source(self) -> str | None:
        return None if self.info is None else str(self.info.get("source"))

    @property
    def proven_proposal(self) -> bool:
        """A model wrote it and nobody changed its pixels since."""
        return self.source == "model" and self.proven


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _chunks(data: bytes):
    """(type, payload) of each chunk; stops quietly at a truncated end."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        start, end = pos + 8, pos + 8 + length
        if end + 4 > len(data):
            return
        yield kind, data[start:end]
        if kind == b"IEND":
            return
        pos = end + 4


def array_hash(mask: np.ndarray) -> str:
    """SHA-256 of a class array: its shape, then its bytes as C-ordered uint8 (the stamp's ``pixels``)."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    digest = hashlib.sha256(("x".join(str(int(n)) for n in mask.shape) + ";").encode("ascii"))
    digest.update(memoryview(mask).cast("B"))
    return digest.hexdigest()


def idat_hash(png: bytes) -> str:
    """SHA-256 of the image data (all IDAT payloads in order): the proof of labeltool 0.2's v1 stamps."""
    digest = hashlib.sha256()
    for kind, payload in _chunks(png):
        if kind == b"IDAT":
            digest.update(payload)
    return digest.hexdigest()


def data_hash(png: bytes) -> str:
    """SHA-256 of the IHDR and IDAT payloads: equal bytes there mean equal decoded pixels (a v2 stamp's
    ``data``, the check that needs no decode)."""
    digest = hashlib.sha256()
    for kind, payload in _chunks(png):
        if kind in (b"IHDR", b"IDAT"):
            digest.update(payload)
    return digest.hexdigest()


def decode_classes(png: bytes) -> np.ndarray | None:
    """The class array a PNG holds, read the way :func:`model.images.read_mask` reads it (index =
    pixel value of an L/P/1 image, 16-bit values up to 255, the first channel of LA); None when it
    cannot be decoded or holds no class indices (a colour image)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            mode = image.mode
            if mode in ("L", "P", "1"):
                return np.asarray(image, dtype=np.uint8)
            if mode == "LA":
                return np.asarray(image.getchannel(0), dtype=np.uint8)
            if mode in ("I;16", "I;16B", "I"):
                wide = np.asarray(image)
                if wide.size and (wide.max() > 255 or wide.min() < 0):
                    return None
                return wide.astype(np.uint8)
    except Exception:  # noqa: BLE001 - any decoder error: no pixels to prove anything with
        return None
    return None


def decoded_hash(png: bytes) -> str | None:
    classes = decode_classes(png)
    return None if classes is None else array_hash(classes)


def _find_stamp(png: bytes) -> tuple[dict[str, Any] | None, bool]:
    """(the labeltool chunk's JSON or None, whether that is decided): undecided when ``png`` is a head
    that ends before the image data (a long chunk ahead of it)."""
    for kind, payload in _chunks(png):
        if kind in (b"IDAT", b"IEND"):
            return None, True
        if kind == b"tEXt" and payload.startswith(KEYWORD + b"\x00"):
            try:
                value = json.loads(payload[len(KEYWORD) + 1:].decode("latin-1"))
            except ValueError:
                return {"source": "unreadable"}, True
            return (value if isinstance(value, dict) else {"source": "unreadable"}), True
    return None, False


def _text_chunk(png: bytes) -> dict[str, Any] | None:
    return _find_stamp(png)[0]


def stamp_in(png: bytes) -> dict[str, Any] | None:
    """The labeltool chunk's JSON of a whole PNG file's bytes (None without one)."""
    return _text_chunk(png) if png.startswith(PNG_SIGNATURE) else None


def stamp(png: bytes, info: dict[str, Any], with_pixels: bool = False, pixels: np.ndarray | None = None) -> bytes:
    """``png`` with a labeltool chunk right after IHDR (any older labeltool chunk removed).

    ``with_pixels`` adds the proof that makes a model's proposal provable: ``pixels`` (the class array
    the PNG encodes, hashed without a decode; decoded from ``png`` when not given) and ``data``."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    info = {**info, "v": STAMP_VERSION}
    if with_pixels:
        info["pixels"] = array_hash(pixels) if pixels is not None else decoded_hash(png)
        info["data"] = data_hash(png)
    text = json.dumps(info, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("latin-1")
    out = [PNG_SIGNATURE]
    for kind, payload in _chunks(png):
        if kind == b"tEXt" and payload.startswith(KEYWORD + b"\x00"):
            continue
        out.append(_chunk(kind, payload))
        if kind == b"IHDR":
            out.append(_chunk(b"tEXt", KEYWORD + b"\x00" + text))
    return b"".join(out)


def _proof(info: dict[str, Any], data: bytes) -> tuple[bool, str | None, str | None]:
    """(the model stamp matches, array hash of the file if known, IDAT hash if computed)."""
    claimed = info.get("pixels")
    if not isinstance(claimed, str):
        return False, None, None
    if info.get("v") == 1:  # labeltool 0.2: the IDAT bytes
        idat = idat_hash(data)
        return claimed == idat, None, idat
    if info.get("data") == data_hash(data):  # bytes as written: pixels as written, no decode needed
        return True, claimed, None
    pixels = decoded_hash(data)  # recompressed (or changed): the decoded pixels decide
    return claimed == pixels, pixels, None


def read_provenance(path: str | Path, need_pixels: bool = False) -> Provenance:
    """Read a mask file's labeltool chunk and, when it claims a model made it, check the proof.
    ``need_pixels`` also hashes the file's pixels (decoded, and its IDAT bytes) whatever it says.
    Reads only the head of a person's or a foreign file otherwise.
    Raises OSError (FileNotFoundError when the mask is gone)."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        if not head.startswith(PNG_SIGNATURE):
            return Provenance(None)
        info, decided = _find_stamp(head)
        if not decided:  # a long chunk (a large unpainted map) before the image data
            head += handle.read()
            info = _text_chunk(head)
        claims_model = info is not None and info.get("source") == "model"
        if not (claims_model or need_pixels or review_of(info) is not None):
            return Provenance(info)
        data = head + handle.read()
    proven, pixels, idat = _proof(info, data) if claims_model else (False, None, None)
    if need_pixels or not claims_model:  # asked for, or a review to check against the decoded pixels
        pixels = pixels or decoded_hash(data)
    if need_pixels:
        idat = idat or idat_hash(data)
    return Provenance(info, proven, pixels, idat)


def read_stamp(path: str | Path) -> dict[str, Any] | None:
    """The labeltool chunk's JSON of a mask file (None without one); reads the whole chunk."""
    data = Path(path).read_bytes()
    return _text_chunk(data) if data.startswith(PNG_SIGNATURE) else None


# ---- a person's stamp ----------------------------------------------------------------------------
def person_info(user: str, at: str, checked: bool, unpainted: np.ndarray | None = None) -> dict[str, Any]:
    """The stamp of a person's save; ``unpainted`` (bool H x W) only when some pixel is unpainted."""
    info: dict[str, Any] = {"source": "person", "by": user, "at": at, "checked": bool(checked)}
    if unpainted is not None and unpainted.any():
        bits = np.packbits(np.ascontiguousarray(unpainted, dtype=bool), axis=None)
        info["unpainted"] = {"shape": [int(n) for n in unpainted.shape],
                             "bits": base64.b64encode(zlib.compress(bits.tobytes(), 6)).decode("ascii")}
    return info


def unpainted_of(info: dict[str, Any] | None) -> np.ndarray | None:
    """The bool H x W map of pixels nobody painted that a person's stamp records; None when it records
    none (or it cannot be read)."""
    record = info.get("unpainted") if isinstance(info, dict) and info.get("source") == "person" else None
    if not isinstance(record, dict):
        return None
    try:
        height, width = (int(n) for n in record["shape"])
        bits = np.frombuffer(zlib.decompress(base64.b64decode(record["bits"])), dtype=np.uint8)
        flat = np.unpackbits(bits, count=height * width).astype(bool)
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    return flat.reshape(height, width)


# ---- a reviewer's verdict ------------------------------------------------------------------------
VERDICTS = ("approved", "rejected")


def review_info(verdict: str, by: str, at: str, note: str, pixels: str) -> dict[str, Any]:
    """A review to put in a person's stamp (``"review"``): ``pixels`` is the :func:`array_hash` of the
    decoded pixels reviewed."""
    if verdict not in VERDICTS:
        raise ValueError(f"a review's verdict is one of {VERDICTS}, not {verdict!r}")
    return {"verdict": verdict, "by": by, "at": at, "note": note, "pixels": pixels}


def review_of(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """The review a person's stamp carries (verdict known, pixel hash present), else None."""
    if not isinstance(info, dict) or info.get("source") != "person":
        return None
    review = info.get("review")
    if (not isinstance(review, dict) or review.get("verdict") not in VERDICTS
            or not isinstance(review.get("pixels"), str)):
        return None
    return review

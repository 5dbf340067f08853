"""Who made a mask, written inside the mask file itself, so the record survives copies.

A mask that labeltool's model proposed carries a PNG ``tEXt`` chunk with the keyword ``labeltool``
whose text is JSON: ``{"v": 1, "source": "model", "model": NAME, "pixels": SHA256, ...}``. ``pixels``
is the SHA-256 of the PNG's image data (the concatenated ``IDAT`` payloads), so a tool that edits the
pixels but keeps the chunk breaks the match. A mask a person saves in labeltool carries
``{"v": 1, "source": "person", "by": USER, "at": ISO-TIME}``. Other tools drop or never write the chunk.

The rule (one place: :func:`status_of`):

- no mask file: ``none``;
- a ``model`` chunk whose ``pixels`` hash matches the file's image data: ``proposed``;
- any other mask: ``corrected`` (a person in labeltool, another tool, an import).

Because the proof is in the file's bytes, ``cp -r``, ``scp``, ``git clone``, ``rsync`` without ``-t``
and a deleted ``.labeltool/`` all keep every proposal a proposal.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"labeltool"
HEAD_BYTES = 4096  # our chunk sits right after IHDR, so it is always within the first bytes


@dataclass(frozen=True)
class Provenance:
    """What a mask file says about itself."""

    info: dict[str, Any] | None  # the labeltool chunk's JSON, None when the file has none
    pixels: str | None  # SHA-256 of the image data, when it was computed

    @property
    def source(self) -> str | None:
        return None if self.info is None else str(self.info.get("source"))

    @property
    def proven_proposal(self) -> bool:
        """A model wrote it and nobody changed its pixels since."""
        return (self.source == "model" and self.pixels is not None
                and self.info is not None and self.info.get("pixels") == self.pixels)


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


def pixel_hash(png: bytes) -> str:
    """SHA-256 of the image data (all IDAT payloads in order) of a PNG held in memory."""
    digest = hashlib.sha256()
    for kind, payload in _chunks(png):
        if kind == b"IDAT":
            digest.update(payload)
    return digest.hexdigest()


def _text_chunk(png_head: bytes) -> dict[str, Any] | None:
    for kind, payload in _chunks(png_head):
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"tEXt" and payload.startswith(KEYWORD + b"\x00"):
            try:
                value = json.loads(payload[len(KEYWORD) + 1:].decode("latin-1"))
            except ValueError:
                return {"source": "unreadable"}
            return value if isinstance(value, dict) else {"source": "unreadable"}
    return None


def stamp(png: bytes, info: dict[str, Any], with_pixels: bool) -> bytes:
    """``png`` with a labeltool chunk right after IHDR (any older labeltool chunk removed).

    ``with_pixels`` adds the image-data hash that makes a model's proposal provable."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    info = {"v": 1, **info}
    if with_pixels:
        info["pixels"] = pixel_hash(png)
    text = json.dumps(info, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("latin-1")
    out = [PNG_SIGNATURE]
    for kind, payload in _chunks(png):
        if kind == b"tEXt" and payload.startswith(KEYWORD + b"\x00"):
            continue
        out.append(_chunk(kind, payload))
        if kind == b"IHDR":
            out.append(_chunk(b"tEXt", KEYWORD + b"\x00" + text))
    return b"".join(out)


def read_provenance(path: str | Path, need_pixels: bool = False) -> Provenance:
    """Read a mask file's labeltool chunk; hash its image data when the chunk claims a model made it
    (or when ``need_pixels``). Reads only the head of files that carry no model chunk.
    Raises OSError (FileNotFoundError when the mask is gone)."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        info = _text_chunk(head) if head.startswith(PNG_SIGNATURE) else None
        claims_model = info is not None and info.get("source") == "model"
        if not (claims_model or need_pixels):
            return Provenance(info, None)
        data = head + handle.read()
    return Provenance(info, pixel_hash(data) if data.startswith(PNG_SIGNATURE) else None)


def status_of(prov: Provenance | None) -> str:
    """The status rule: ``none`` without a file, ``proposed`` for a proven model proposal, else ``corrected``."""
    if prov is None:
        return "none"
    return "proposed" if prov.proven_proposal else "corrected"

"""Which source proposes a video frame next to a corrected one, as measured for the model (issue 18).

A frame whose previous or next frame has a corrected mask can be proposed by the network alone, by that
mask moved along the optical flow (the warp) or by their combination. At the end of a retrain
(``model.evaluation.sources``) the three are scored on held-out corrected frames against the nearest
*other* corrected frame of their sequence, per gap bucket (``GAP_BUCKETS``, frame numbers apart), and the
winners are written to the model card under ``proposal_source``:

    {"version": 1, "buckets": [{"gaps": [1, 1], "frames": 12, "winner": "warp",
                                "pixel_accuracy": {"network": .., "warp": .., "combine": ..},
                                "miou": {...}}, ...],
     "max_warp_gap": 30 or null, ...}

``choose`` is the one rule that reads it: the winner of the image's gap bucket; a bucket not measured
takes the old default (the warp) up to ``max_warp_gap`` (the gap from which on the network won every
measured bucket: the maximum gap learned from the data) and the network beyond it. No record (an older
model, a project without measurable frames): the old default, the warp. The guard of
``model.inference.propagate`` (fit check, MAX_FRAME_GAP, the project's sequence setting) applies on top.
"""

from __future__ import annotations

from typing import Any

CARD_KEY = "proposal_source"
RECORD_VERSION = 1
GAP_BUCKETS: tuple[tuple[int, int], ...] = ((1, 1), (2, 5), (6, 30), (31, 90))
SOURCES = ("network", "warp", "combine")       # as named in the card
MODE_OF = {"network": "off", "warp": "warp", "combine": "combine"}  # as propose_dataset's ``neighbours``
DEFAULT_MODE = "warp"                          # no record: what proposing did before it was measured


def gap_bucket(gap: int) -> tuple[int, int] | None:
    """The bucket (low, high) holding ``gap`` frames, or None beyond the last."""
    return next((b for b in GAP_BUCKETS if b[0] <= gap <= b[1]), None)


def record_of(card: dict[str, Any] | None) -> dict[str, Any] | None:
    """The card's measured record when it is one this version reads; else None (the old default then)."""
    record = (card or {}).get(CARD_KEY)
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        return None
    if not isinstance(record.get("buckets"), list):
        return None
    return record


def max_warp_gap(buckets: list[dict[str, Any]]) -> int | None:
    """The largest gap still left to the warp: the network won every measured bucket from some gap on ->
    the gap just below that bucket; None when the last measured bucket is not the network's (no limit
    learned: MAX_FRAME_GAP stands)."""
    measured = sorted((b for b in buckets if b.get("winner") in SOURCES), key=lambda b: b["gaps"][0])
    first = None
    for bucket in reversed(measured):
        if bucket["winner"] != "network":
            break
        first = bucket
    return None if first is None else int(first["gaps"][0]) - 1


def choose(record: dict[str, Any] | None, gap: int | None) -> str:
    """``propose_dataset``'s mode ("warp", "combine" or "off") for an image ``gap`` frames from its
    corrected neighbour, by the model's ``record`` (``record_of(card)``)."""
    if record is None or gap is None:
        return DEFAULT_MODE
    bucket = gap_bucket(gap)
    for measured in record.get("buckets", []):
        try:
            low, high = measured["gaps"]
        except (KeyError, TypeError, ValueError):
            continue
        if bucket is not None and (low, high) == bucket and measured.get("winner") in SOURCES:
            return MODE_OF[measured["winner"]]
    limit = record.get("max_warp_gap")
    if isinstance(limit, int) and gap > limit:
        return "off"
    return DEFAULT_MODE


__all__ = ["CARD_KEY", "DEFAULT_MODE", "GAP_BUCKETS", "MODE_OF", "RECORD_VERSION", "SOURCES", "choose", "gap_bucket",
           "max_warp_gap", "record_of"]

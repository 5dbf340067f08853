"""Proposals from a neighbouring frame (no Qt): copy or optical-flow warp of a corrected mask, combined with
the network's proposal by confidence.

Video frames of one sequence share most of their pixels. When the previous or next frame of a sequence
(names like ``0001TP_006690`` or ``Seq05VD_f00000``: the sequence prefix before the first ``_``/``-``, as
in :mod:`model.datasets.split`, and the frame number at the end) has a corrected mask, that mask, moved
along the optical flow between the two images (scikit-image's ``optical_flow_ilk`` on greyscale copies at
half size, the mask sampled with nearest neighbour so classes never blend), is a proposal for this frame.
When a network proposal with its confidence exists too, pixels where the network is sure
(confidence >= ``threshold``) keep the network's class and the others take the warped mask.

Which of these wins was measured on CamVid-11's held-out ``val.txt`` sequence (see
``benchmarks/README_train.md``, "Proposals from a neighbouring frame"): the warp alone, with the network
(one-click models that never saw the sequence) and with their combination; :data:`DEFAULT_METHOD` is the
winner and :func:`propose_from_neighbour` uses it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import numpy as np

GROUP_REGEX = r"^(.+?)[_-]"          # the sequence prefix, as model.datasets.split.DEFAULT_GROUP_REGEX
_FRAME = re.compile(r"(\d+)\D*$")   # the last run of digits is the frame number
METHODS = ("copy", "warp")
DEFAULT_METHOD = "warp"
FLOW_SCALE = 0.5                    # optical flow on half-size greyscale copies
# combination ("combine", not the default): the network's class where its confidence >= this. 0.9 was the best
# of 0.5/0.7/0.9 for two held-out-sequence models at every gap; it still never beat the warp alone by more
# than 0.7 points (benchmarks/README_train.md), so DEFAULT_METHOD stays the warp.
DEFAULT_THRESHOLD = 0.9


# ----------------------------------------------------------------------------------- neighbours

def sequence_key(name: str, group_regex: str = GROUP_REGEX) -> tuple[str, int] | None:
    """(sequence, frame number) of an image name, or None when the name carries no frame number."""
    from .datasets.split import group_of

    pattern = re.compile(group_regex)
    seq = group_of(name, pattern)
    rest = name[len(seq):] if name.startswith(seq) else name
    match = _FRAME.search(rest)
    if seq == name or match is None:
        return None
    return seq, int(match.group(1))


class FrameIndex:
    """Frames by sequence, built once for a whole proposal run (100,000 names: one pass, not one per image)."""

    def __init__(self, names, group_regex: str = GROUP_REGEX):
        self._key: dict[str, tuple[str, int]] = {}
        by_seq: dict[str, list[tuple[int, str]]] = {}
        for other in names:
            key = sequence_key(other, group_regex)
            if key is not None:
                self._key[other] = key
                by_seq.setdefault(key[0], []).append((key[1], other))
        self._by_seq = {seq: sorted(frames) for seq, frames in by_seq.items()}

    def neighbours(self, name: str) -> tuple[str | None, str | None]:
        key = self._key.get(name)
        if key is None:
            return None, None
        frames = self._by_seq[key[0]]
        at = bisect.bisect_left(frames, (key[1], name))
        prev = next((n for f, n in reversed(frames[:at]) if f < key[1]), None)
        nxt = next((n for f, n in frames[at:] if f > key[1]), None)
        return prev, nxt


def neighbours(names, name: str, group_regex: str = GROUP_REGEX) -> tuple[str | None, str | None]:
    """The previous and next frame of ``name``'s sequence among ``names`` (None where there is none).
    Builds a FrameIndex: for many names of one run, build the index once and ask it."""
    return FrameIndex(names, group_regex).neighbours(name)


# --------------------------------------------------------------------------------------- flow

def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return image.astype(np.float32) / 255.0


def flow_to(target: np.ndarray, source: np.ndarray, scale: float = FLOW_SCALE, method: str = "ilk") -> np.ndarray:
    """Flow (2, H, W) in full-size pixels such that ``source[p + flow[:, p]] ~ target[p]``."""
    from skimage.registration import optical_flow_ilk, optical_flow_tvl1
    from skimage.transform import resize

    t, s = _grey(target), _grey(source)
    if t.shape != s.shape:
        raise ValueError(f"frames differ in size: {t.shape} vs {s.shape}")
    h, w = t.shape
    if scale != 1.0:
        small = (max(8, round(h * scale)), max(8, round(w * scale)))
        t = resize(t, small, anti_aliasing=True, preserve_range=True).astype(np.float32)
        s = resize(s, small, anti_aliasing=True, preserve_range=True).astype(np.float32)
    if method == "ilk":
        flow = optical_flow_ilk(t, s, radius=7, num_warp=5)
    elif method == "tvl1":
        flow = optical_flow_tvl1(t, s, num_warp=3, num_iter=8)
    else:
        raise ValueError(f"flow method must be 'ilk' or 'tvl1', got {method!r}")
    if flow.shape[1:] != (h, w):
        sy, sx = h / flow.shape[1], w / flow.shape[2]
        flow = np.stack([resize(flow[0], (h, w), order=1) * sy, resize(flow[1], (h, w), order=1) * sx])
    return flow.astype(np.float32)


def warp_mask(mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``mask`` (of the source frame) moved onto the target frame: nearest sampling at p + flow[:, p]."""
    h, w = mask.shape
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    sy = np.clip(np.rint(yy + flow[0]), 0, h - 1).astype(np.intp)
    sx = np.clip(np.rint(xx + flow[1]), 0, w - 1).astype(np.intp)
    return mask[sy, sx]


def propagate(source_image: np.ndarray, source_mask: np.ndarray, target_image: np.ndarray,
              method: str = DEFAULT_METHOD, flow_scale: float = FLOW_SCALE) -> np.ndarray:
    """The source frame's mask as a proposal for the target frame: "copy" or "warp" (optical flow)."""
    source_mask = np.asarray(source_mask)
    if source_mask.shape != np.shape(target_image)[:2]:
        raise ValueError(f"mask of shape {source_mask.shape} does not fit the target image {np.shape(target_image)[:2]}")
    if method == "copy":
        return source_mask.copy()
    if method == "warp":
        return warp_mask(source_mask, flow_to(target_image, source_image, flow_scale))
    raise ValueError(f"propagation method must be one of {METHODS}, got {method!r}")


def combine(neighbour_mask: np.ndarray, network_mask: np.ndarray, network_confidence: np.ndarray,
            threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Per pixel: the network's class where its confidence >= ``threshold``, else the neighbour's."""
    sure = np.asarray(network_confidence) >= threshold
    return np.where(sure, network_mask, neighbour_mask).astype(np.uint8)


# ------------------------------------------------------------------------------------- project

@dataclass
class NeighbourProposal:
    mask: np.ndarray           # (H, W) uint8
    source: str                # the corrected frame it came from
    method: str                # "copy" / "warp", with "+network" when combined


def propose_from_neighbour(project, name: str, *, network_mask: np.ndarray | None = None,
                           network_confidence: np.ndarray | None = None, method: str = DEFAULT_METHOD,
                           threshold: float = DEFAULT_THRESHOLD, index: FrameIndex | None = None,
                           statuses: dict[str, str] | None = None) -> NeighbourProposal | None:
    """A proposal for ``name`` from the nearest corrected frame of its sequence (previous first), or None
    when neither neighbour is corrected. With a network proposal (``network_mask`` and its
    ``network_confidence``) the two are combined by confidence."""
    from .imageio import read_image

    prev, nxt = (index or FrameIndex(project.names())).neighbours(name)

    def corrected(other: str) -> bool:
        return (statuses.get(other) if statuses is not None else project.status(other)) == "corrected"

    source = next((n for n in (prev, nxt) if n is not None and corrected(n)), None)
    if source is None:
        return None
    source_mask = project.load_mask(source)
    if source_mask is None:
        return None
    target_image = read_image(project.image_path(name))
    source_image = read_image(project.image_path(source))
    if source_image.shape[:2] != target_image.shape[:2]:
        return None  # frames of different sizes are not neighbours in any useful sense
    mask = propagate(source_image, source_mask, target_image, method)
    used = method
    if network_mask is not None and network_confidence is not None:
        mask = combine(mask, network_mask, network_confidence, threshold)
        used += "+network"
    return NeighbourProposal(mask, source, used)


__all__ = ["FrameIndex", "DEFAULT_METHOD", "DEFAULT_THRESHOLD", "METHODS", "NeighbourProposal", "combine", "flow_to",
           "neighbours", "propagate", "propose_from_neighbour", "sequence_key", "warp_mask"]

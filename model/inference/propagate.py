"""Proposals from a neighbouring frame (no Qt): copy or optical-flow warp of a corrected mask, combined with
the network's proposal by confidence.

Video frames of one sequence share most of their pixels. When the previous or next frame of a sequence
(names like ``0001TP_006690`` or ``Seq05VD_f00000``: the sequence prefix before the first ``_``/``-``, as
in :mod:`model.datasets.split`, and the frame number at the end) has a corrected mask, that mask, moved
along the optical flow between the two images (scikit-image's ``optical_flow_ilk`` on greyscale copies at
half size, the mask sampled with nearest neighbour so classes never blend), is a proposal for this frame.
When a network proposal with its confidence exists too, pixels where the network is sure
(confidence >= ``threshold``) keep the network's class and the others take the warped mask.

The warp is guarded (issue 18): frame names only make two images candidates (the project's
``sequence_regex`` setting, ``model.project.layout.project_group_regex``); the frame gap must be small and the
warp must fit (:func:`fit_check`), else the network's proposal stands. See MAX_FRAME_GAP and FIT_THRESHOLD.

Which of these wins was measured on CamVid-11's held-out ``val.txt`` sequence (see
``benchmarks/README_train.md``, "Proposals from a neighbouring frame"): the warp alone, with the network
(one-click models that never saw the sequence) and with their combination; :data:`DEFAULT_METHOD` is the
winner and :func:`propose_from_neighbour` uses it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.images.imageio import read_image
from model.project.layout import group_of, project_group_regex
from model.project.status import TRAINED  # a person's checked mask (corrected or reviewed)

GROUP_REGEX = r"^(.+?)[_-]"          # the sequence prefix, as model.project.layout.DEFAULT_GROUP_REGEX
_FRAME = re.compile(r"(\d+)\D*$")   # the last run of digits is the frame number
METHODS = ("copy", "warp")
DEFAULT_METHOD = "warp"
FLOW_SCALE = 0.5                    # optical flow on half-size greyscale copies
# combination ("combine", not the default): the network's class where its confidence >= this. 0.9 was the best
# of 0.5/0.7/0.9 for two held-out-sequence models at every gap; it still never beat the warp alone by more
# than 0.7 points (benchmarks/README_train.md), so DEFAULT_METHOD stays the warp.
DEFAULT_THRESHOLD = 0.9
# The guard (issue 18): names only say two frames MAY be neighbours. The warp is used only when the frame numbers
# are at most MAX_FRAME_GAP apart and the warped source frame fits the target (``fit_check``): its mean
# photometric residual (``fit_residual``: standardised greyscale at the flow's half size) is at most
# FIT_THRESHOLD AND at most NULL_RATIO times the residual of the same flow search onto the target turned
# upside down (a scene with the target's own statistics that the source cannot be: optical flow fits
# unrelated images well, but then it fits the turned one as well). Calibrated on CamVid-11 train
# (benchmarks/README_inference.md, "Neighbour guard"): 23 of 24 consecutive labelled frames (1 s apart)
# pass, 0 of 16 pairs from different sequences, 0 of 16 crops of them, 0 of 8 synthetic mosaics. Otherwise
# the network's proposal stands. A warped pixel's confidence is 1 / (1 + residual): one spread is unsure.
MAX_FRAME_GAP = 90
FIT_THRESHOLD = 0.82
NULL_RATIO = 0.75


# ----------------------------------------------------------------------------------- neighbours

def sequence_key(name: str, group_regex: str = GROUP_REGEX) -> tuple[str, int] | None:
    """(sequence, frame number) of an image name, or None when the name carries no frame number."""

    pattern = re.compile(group_regex)
    seq = group_of(name, pattern)
    rest = name[len(seq):] if name.startswith(seq) else name
    match = _FRAME.search(rest)
    if seq == name or match is None:
        return None
    return seq, int(match.group(1))


class FrameIndex:
    """Frames by sequence, built once for a whole proposal run (100,000 names: one pass, not one per image)."""

    def __init__(self, names, group_regex: str | None = GROUP_REGEX):
        """``group_regex`` None: no sequences (a project of independent photos)."""
        self._key: dict[str, tuple[str, int]] = {}
        by_seq: dict[str, list[tuple[int, str]]] = {}
        for other in (names if group_regex is not None else ()):
            key = sequence_key(other, group_regex)
            if key is not None:
                self._key[other] = key
                by_seq.setdefault(key[0], []).append((key[1], other))
        self._by_seq = {seq: sorted(frames) for seq, frames in by_seq.items()}

    def gap(self, a: str, b: str) -> int | None:
        """Frame numbers between two frames of one sequence; None when they are not."""
        ka, kb = self._key.get(a), self._key.get(b)
        return abs(ka[1] - kb[1]) if ka is not None and kb is not None and ka[0] == kb[0] else None

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
    return _flow(target, source, scale, method)[0]


def _standard(grey: np.ndarray) -> np.ndarray:
    """Zero median, unit spread (median absolute deviation): the same scene under another exposure matches."""
    centred = grey - np.median(grey)
    return centred / max(1e-3, float(np.median(np.abs(centred))) * 1.4826)


def fit_residual(t: np.ndarray, s: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Per-pixel photometric error of the warp: |target - source sampled at p + flow| on standardised
    greyscale copies (``_standard``), at the size of ``t`` (the flow's working size)."""
    from scipy.ndimage import map_coordinates

    h, w = t.shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    warped = map_coordinates(_standard(s), [yy + flow[0], xx + flow[1]], order=1, mode="nearest")
    return np.abs(_standard(t) - warped).astype(np.float32)


def _flow(target: np.ndarray, source: np.ndarray, scale: float = FLOW_SCALE, method: str = "ilk"):
    """(full-size flow, per-pixel fit residual at the flow's size)."""
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
    residual = fit_residual(t, s, flow)
    if flow.shape[1:] != (h, w):
        sy, sx = h / flow.shape[1], w / flow.shape[2]
        flow = np.stack([resize(flow[0], (h, w), order=1) * sy, resize(flow[1], (h, w), order=1) * sx])
    return flow.astype(np.float32), residual


def warp_mask(mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``mask`` (of the source frame) moved onto the target frame: nearest sampling at p + flow[:, p]."""
    h, w = mask.shape
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    sy = np.clip(np.rint(yy + flow[0]), 0, h - 1).astype(np.intp)
    sx = np.clip(np.rint(xx + flow[1]), 0, w - 1).astype(np.intp)
    return mask[sy, sx]


def fit_check(fit: float, null_fit: float) -> bool:
    """Whether a warp with mean residual ``fit`` (and ``null_fit`` onto the turned target) is of one scene."""
    return fit <= FIT_THRESHOLD and fit <= NULL_RATIO * null_fit


def warp_with_fit(source_image: np.ndarray, source_mask: np.ndarray, target_image: np.ndarray,
                  flow_scale: float = FLOW_SCALE) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(warped mask, its per-pixel confidence (H, W) float32, mean fit residual, the null residual: the same
    onto the target turned upside down) of the source frame's mask moved onto the target frame."""
    from skimage.transform import resize

    flow, residual = _flow(target_image, source_image, flow_scale)
    null = float(_flow(np.ascontiguousarray(np.asarray(target_image)[::-1, ::-1]), source_image, flow_scale)[1].mean())
    confidence = 1.0 / (1.0 + residual)
    h, w = np.shape(target_image)[:2]
    if confidence.shape != (h, w):
        confidence = resize(confidence, (h, w), order=1, preserve_range=True)
    return warp_mask(np.asarray(source_mask), flow), confidence.astype(np.float32), float(residual.mean()), null


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
    confidence: np.ndarray | None = None  # (H, W) float32: 1 / (1 + fit residual); the network's where combined
    fit: float | None = None   # mean fit residual (see fit_check)


def neighbour_source(index: FrameIndex, name: str, corrected: Callable[[str], bool]) -> str | None:
    """The frame whose mask ``name``'s proposal comes from: the previous frame of its sequence when
    ``corrected(it)``, else the next, within MAX_FRAME_GAP frames; None when neither (the fit is checked later,
    by propose_from_neighbour). The one choice, asked by the proposal run and by the prefetch after an Accept."""
    return next((n for n in index.neighbours(name) if n is not None and corrected(n)
                 and (index.gap(name, n) or 0) <= MAX_FRAME_GAP), None)


def warped_from(made_by: str | None) -> str | None:
    """The frame a proposal was moved from, read from its record's model ("MODEL + warp of NAME", as
    model.inference.propose writes it); None for the network's own proposal."""
    head, sep, source = str(made_by or "").rpartition(" of ")
    return source if sep and " + " in head else None


def propose_from_neighbour(project, name: str, *, network_mask: np.ndarray | None = None,
                           network_confidence: np.ndarray | None = None, method: str = DEFAULT_METHOD,
                           threshold: float = DEFAULT_THRESHOLD, index: FrameIndex | None = None,
                           statuses: dict[str, str] | None = None) -> NeighbourProposal | None:
    """A proposal for ``name`` from the nearest corrected frame of its sequence (previous first), or None
    when neither neighbour is corrected, the gap between them exceeds MAX_FRAME_GAP, or the warp does not
    fit (mean residual over FIT_THRESHOLD: not the same scene). With a network proposal (``network_mask``
    and its ``network_confidence``) the two are combined by confidence. ``index``: the project's
    FrameIndex (built from its ``sequence_regex`` setting otherwise)."""

    index = index or FrameIndex(project.names(), project_group_regex(project))

    def corrected(other: str) -> bool:
        return (statuses.get(other) if statuses is not None else project.status(other)) in TRAINED

    source = neighbour_source(index, name, corrected)
    if source is None:
        return None
    source_mask = project.load_mask(source)
    if source_mask is None:
        return None
    target_image = read_image(project.image_path(name))
    source_image = read_image(project.image_path(source))
    if source_image.shape[:2] != target_image.shape[:2]:
        return None  # frames of different sizes are not neighbours in any useful sense
    if np.shape(source_mask) != target_image.shape[:2]:
        return None
    if method not in METHODS:
        raise ValueError(f"propagation method must be one of {METHODS}, got {method!r}")
    warped, confidence, fit, null_fit = warp_with_fit(source_image, source_mask, target_image)
    if not fit_check(fit, null_fit):
        return None  # not the same scene (or a cut): the network's proposal stands
    mask = np.asarray(source_mask).copy() if method == "copy" else warped
    used = method
    if network_mask is not None and network_confidence is not None:
        sure = np.asarray(network_confidence) >= threshold
        mask = combine(mask, network_mask, network_confidence, threshold)
        confidence = np.where(sure, network_confidence, confidence).astype(np.float32)
        used += "+network"
    return NeighbourProposal(mask, source, used, confidence, fit)


__all__ = ["FIT_THRESHOLD", "MAX_FRAME_GAP", "NULL_RATIO", "fit_check", "FrameIndex", "DEFAULT_METHOD", "fit_residual", "warp_with_fit", "DEFAULT_THRESHOLD", "METHODS", "NeighbourProposal", "combine", "flow_to", "neighbour_source", "warped_from",
           "neighbours", "propagate", "propose_from_neighbour", "sequence_key", "warp_mask"]

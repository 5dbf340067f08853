"""The proposal source, chosen by measurement per project (issue 18): network, warp or their combination.

At the end of a retrain (``model.training.finish``) :func:`record_proposal_source` scores, on the held-out
corrected frames that have another corrected frame in their sequence, three proposals of each frame:

- ``network``: the new model alone;
- ``warp``: the nearest *other* corrected frame of the sequence (previous and next, each a pair), its mask
  moved along the optical flow (``model.inference.propagate.warp_with_fit``);
- ``combine``: the network's class where it is sure, the warp's elsewhere (``propagate.combine``).

Pairs are grouped by their gap in frame numbers (``source_choice.GAP_BUCKETS``: the gaps this project
actually has); only pairs that pass the warp's guard (``fit_check``, MAX_FRAME_GAP) are scored, as only
those are ever proposed from a neighbour. Per bucket: pixel accuracy without Void and mIoU
(``model.evaluation.metrics``) of each source, the number of pairs, and the winner. The warp (the old default,
which beat the network on held-out sequences) stays the winner unless the best other source beats it by more
than the noise: its mean per-pair advantage must exceed both twice its standard error and ``MIN_ADVANTAGE``
(5 points), over at least ``MIN_PAIRS`` pairs. The margin is there because the held-out frames measured here
always share their sequence with frames the network trained on (that is what gives them a corrected
neighbour), so the network is measured on near-duplicates of its training frames: in the 50-frame session
benchmark (benchmarks/README_session.md) it measured 2-5 points ahead of the warp here and was 2-10 points
behind it on the frames ahead. The record goes into the model card under ``proposal_source``;
``model.inference.source_choice.choose`` reads it when proposing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import LabeltoolError
from model.images.imageio import read_image, read_raw
from model.inference.propagate import DEFAULT_THRESHOLD, MAX_FRAME_GAP, FrameIndex, combine, fit_check, warp_with_fit
from model.inference.source_choice import CARD_KEY, GAP_BUCKETS, RECORD_VERSION, SOURCES, gap_bucket, max_warp_gap
from model.project.layout import project_group_regex

from .metrics import ConfusionAccumulator

MAX_PAIRS = 48          # pairs scored at most per retrain (each costs two optical flows): spread over the buckets
DEFAULT_SOURCE = "warp"  # what stays unless another source wins clearly (see the module doc)
MIN_PAIRS = 2
MIN_ADVANTAGE = 0.05     # pixel accuracy over the warp, per pair on average


def measurable_pairs(project, names: Iterable[str], truth: Iterable[str] | None = None) -> list[tuple[str, str, int]]:
    """(target, source, gap) for each of ``names`` with a truth mask and the nearest other frame with a truth
    mask before and after it in its sequence, at most MAX_FRAME_GAP frames apart. ``truth``: the frames
    whose masks count (default: the project's corrected frames, those trained or validated on)."""
    regex = project_group_regex(project)
    if regex is None:
        return []
    truth = set(project.corrected_names() if truth is None else truth)
    index = FrameIndex(sorted(truth), regex)
    pairs = []
    for name in names:
        if name not in truth:
            continue
        for source in index.neighbours(name):
            gap = index.gap(name, source) if source is not None else None
            if gap is not None and 1 <= gap <= MAX_FRAME_GAP:
                pairs.append((name, source, gap))
    return pairs


def _spread(pairs: list[tuple[str, str, int]], limit: int) -> list[tuple[str, str, int]]:
    """At most ``limit`` pairs, taken in turn from each bucket so a rare gap is measured too."""
    by_bucket = [[p for p in pairs if gap_bucket(p[2]) == b] for b in GAP_BUCKETS]
    out: list[tuple[str, str, int]] = []
    while len(out) < limit and any(by_bucket):
        for group in by_bucket:
            if group and len(out) < limit:
                out.append(group.pop(0))
    return out


def score_sources(project, predictor, names: Iterable[str], *, truth: Iterable[str] | None = None,
                  max_pairs: int = MAX_PAIRS, cancel: Callable[[], bool] | None = None) -> dict[str, Any] | None:
    """The ``proposal_source`` record of ``predictor`` on the held-out frames ``names`` (see the module);
    None when no pair could be scored (no sequence, no corrected neighbour, every warp refused)."""
    t0 = time.monotonic()
    pairs = _spread(measurable_pairs(project, names, truth), max_pairs)
    if not pairs:
        return None
    codes = list(project.codes)
    void = project.void_index
    accs = {b: {s: ConfusionAccumulator(len(codes), void) for s in SOURCES} for b in GAP_BUCKETS}
    counts = dict.fromkeys(GAP_BUCKETS, 0)
    per_pair: dict[tuple[int, int], dict[str, list[float]]] = {b: {s: [] for s in SOURCES} for b in GAP_BUCKETS}
    refused = 0
    network: dict[str, Any] = {}
    for target, source, gap in pairs:
        if cancel is not None and cancel():
            break
        try:
            truth_mask = project.load_mask(target)
            source_mask = project.load_mask(source)
            target_image = read_image(project.image_path(target))
            source_image = read_image(project.image_path(source))
        except LabeltoolError:
            continue
        size = target_image.shape[:2]
        if (truth_mask is None or source_mask is None or source_image.shape[:2] != size
                or np.shape(truth_mask) != size or np.shape(source_mask) != size):
            continue
        warped, _, fit, null_fit = warp_with_fit(source_image, source_mask, target_image)
        if not fit_check(fit, null_fit):
            refused += 1
            continue
        if target not in network:
            network[target] = predictor.predict_many([read_raw(project.image_path(target))])[0]
        pred = network[target]
        proposals = {"network": pred.mask, "warp": warped,
                     "combine": combine(warped, pred.mask, pred.confidence, DEFAULT_THRESHOLD)}
        bucket = gap_bucket(gap)
        counts[bucket] += 1
        scored = np.asarray(truth_mask) != void if void is not None else np.ones(size, bool)
        for src, mask in proposals.items():
            accs[bucket][src].update(np.asarray(mask, dtype=np.int64), np.asarray(truth_mask, dtype=np.int64))
            if scored.any():
                per_pair[bucket][src].append(float((np.asarray(mask)[scored] == np.asarray(truth_mask)[scored]).mean()))
    buckets = [_bucket_entry(b, counts[b], accs[b], codes, per_pair[b]) for b in GAP_BUCKETS if counts[b]]
    if not buckets:
        return None
    return {"version": RECORD_VERSION, "measured_on": "validation", "images": len(network), "pairs": sum(counts.values()),
            "refused_by_guard": refused, "buckets": buckets, "max_warp_gap": max_warp_gap(buckets),
            "seconds": round(time.monotonic() - t0, 2)}


def _bucket_entry(bucket: tuple[int, int], count: int, accs: dict, codes: list[str],
                  pairs: dict[str, list[float]]) -> dict[str, Any]:
    figures = {s: accs[s].metrics(codes) for s in SOURCES}
    accuracy = {s: _round(figures[s]["pixel_accuracy"]) for s in SOURCES}
    miou = {s: _round(figures[s]["miou"]) for s in SOURCES}
    winner, advantage, error = winner_of(accuracy, pairs)
    return {"gaps": list(bucket), "frames": count, "winner": winner, "pixel_accuracy": accuracy, "miou": miou,
            "advantage": advantage, "advantage_se": error}


def winner_of(accuracy: dict[str, float | None], pairs: dict[str, list[float]],
              ) -> tuple[str, float | None, float | None]:
    """(winner, the best challenger's mean per-pair advantage over the warp, its standard error): the warp
    unless the challenger clears MIN_ADVANTAGE and twice the standard error over MIN_PAIRS pairs or more."""
    challenger = max((s for s in SOURCES if s != DEFAULT_SOURCE), key=lambda s: accuracy[s] or -1.0)
    diffs = np.asarray(pairs.get(challenger, []), float) - np.asarray(pairs.get(DEFAULT_SOURCE, []), float)
    if len(diffs) < MIN_PAIRS:
        return DEFAULT_SOURCE, (_round(diffs.mean()) if len(diffs) else None), None
    mean, error = float(diffs.mean()), float(diffs.std(ddof=1) / np.sqrt(len(diffs)))
    winner = challenger if mean > max(MIN_ADVANTAGE, 2 * error) else DEFAULT_SOURCE
    return winner, _round(mean), _round(error)


def _round(value) -> float | None:
    return None if value is None else round(float(value), 4)


def record_proposal_source(project, weights: str | Path, names: Iterable[str], *, device: str | None = None,
                           on_event: Callable[[dict], None] | None = None) -> dict[str, Any] | None:
    """Score the saved model ``weights`` on the held-out frames ``names`` and write the record into its card
    (``proposal_source``); returns it, or None when nothing was measurable (the card is left as it is).
    Never fatal to a retrain: a failure is a notice."""
    from model.inference.predict import Predictor
    from model.registry.modelfile import update_card
    from model.registry.registry import load_checked_model

    names = list(names)
    try:
        if not measurable_pairs(project, names):
            return None
        predictor = Predictor(load_checked_model(project, Path(weights), device), device=device, batch_size=1)
        record = score_sources(project, predictor, names)
        if record is None:
            return None
        update_card(weights, {CARD_KEY: record})
    except (LabeltoolError, OSError, ValueError, RuntimeError) as exc:
        if on_event is not None:
            on_event({"event": "notice", "message": f"proposal source not measured: {exc}"})
        return None
    if on_event is not None:
        winners = ", ".join(f"{b['gaps'][0]}-{b['gaps'][1]}: {b['winner']} ({b['frames']})" for b in record["buckets"])
        on_event({"event": "notice", "message": f"proposal source by frame gap: {winners}"})
    return record


__all__ = ["MAX_PAIRS", "MIN_ADVANTAGE", "MIN_PAIRS", "measurable_pairs", "record_proposal_source",
           "score_sources", "winner_of"]

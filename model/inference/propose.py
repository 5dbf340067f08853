"""Proposing masks: run the model over the images nobody has corrected yet.

A corrected mask is never overwritten: the status is checked when choosing the images, again just
before each write, and ``Project.save_mask`` refuses a proposal over a corrected mask under its lock
(a person may correct an image in the app while this runs). Each proposal comes with its per-pixel
confidence (``project.confidence_path(name)``, an 8-bit PNG, 255 = certain) and its summary (mean
confidence, unsure share, entropy, margin) in the project's record, so the app can offer the least
certain images first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from model.errors import LabeltoolError, ModelFileError
from model.images.imageio import read_raw
from model.nets.planes import LOW_CONFIDENCE  # pixels below this count as "unsure" in the summary
from model.project.confidence import confidence_values, write_confidence
from model.project.layout import project_group_regex
from model.project.project import ProposalRefused
from model.project.status import KEPT, TRAINED  # statuses a proposal never overwrites; checked masks
from model.registry.registry import load_checked_model

from .predict import Predictor
from .propagate import DEFAULT_THRESHOLD, MAX_FRAME_GAP, FrameIndex, combine, propose_from_neighbour
from .runtime import proposal_runtime
from .source_choice import choose, record_of

NEIGHBOURS = ("auto", "warp", "combine", "off")  # propose_dataset's choices


def proposal_summary(pred, num_classes: int) -> dict[str, float]:
    """The figures recorded with a proposal: mean confidence, share of unsure pixels, mean entropy
    normalised to 0..1 by log(classes), and mean margin between the two best classes when known. A
    ``Predictor``'s prediction carries them (``stats``, over every full-size pixel, taken while its planes
    were made); otherwise they are computed from the planes."""
    stats = getattr(pred, "stats", None)
    if stats:
        out = {"mean_confidence": round(float(stats["mean_confidence"]), 6),
               "unsure_fraction": round(float(stats["unsure_fraction"]), 6)}
        if stats.get("entropy") is not None and num_classes > 1:
            out["entropy"] = round(float(stats["entropy"] / np.log(num_classes)), 6)
        if stats.get("margin") is not None:
            out["margin"] = round(float(stats["margin"]), 6)
        return out
    conf = confidence_values(pred.confidence)
    out = {"mean_confidence": round(float(conf.mean()), 6),
           "unsure_fraction": round(float((conf < LOW_CONFIDENCE).mean()), 6)}
    entropy = getattr(pred, "entropy", None)
    if entropy is not None and num_classes > 1:
        out["entropy"] = round(float(entropy.mean() / np.log(num_classes)), 6)
    margin = getattr(pred, "margin", None)
    if margin is not None:
        out["margin"] = round(float(np.asarray(margin).mean()), 6)
    return out


def propose_dataset(
    project,
    model_path: str | Path | None = None,
    names: Iterable[str] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    batch_size: int = 4,
    *,
    tta_flip: bool = False,
    device: str | None = None,
    predictor=None,
    on_error: Callable[[str, Exception], None] | None = None,
    on_skip: Callable[[str], None] | None = None,
    neighbours: str = "auto",
    frames=None,
    neighbour_only: bool = False,
) -> list[str]:
    """Propose masks for ``names`` (default: every image) that have no corrected mask.

    Writes each mask with status "proposed", its confidence PNG and its uncertainty summary; returns
    the names written, in order. ``on_progress(done, total, name)`` follows each image; ``cancel()``
    returning True stops between images (what was written stays). ``on_error(name, exc)``, if given,
    is told about an unreadable image and the run goes on; without it the error is raised. ``on_skip(name)``
    is told about an image left alone because it got a correction meanwhile or is open in an editor.
    ``predictor`` (a ready ``Predictor``) skips loading the model; ModelFileError when the model's
    classes differ from the project's codes either way.

    ``neighbours``: a video frame whose previous or next frame has a corrected mask is proposed from that
    mask moved along the optical flow (``"warp"``), the warp combined with the network by confidence
    (``"combine"``), or by the network alone (``"off"``). ``"auto"`` (the default): per image, what won at
    its gap to that neighbour when the proposing model was measured at the end of its retrain (the card's
    ``proposal_source``, ``model.inference.source_choice.choose``); the warp for a model without that
    record (it beat the network on held-out CamVid, benchmarks/README_train.md). A neighbour is used only
    where the warp passes its guard (``propagate.fit_check``, the frame gap, the project's sequence
    setting), whatever the choice, with a confidence map from the warp's fit. ``frames``: a
    ``model.inference.propagate.FrameIndex`` of the project's names, for a caller that proposes a few images at a time
    (built here otherwise: 0.4 s at 100,000 images). ``neighbour_only``: write only proposals from a neighbour
    (the prefetch child after an Accept: where the warp fails its guard, the proposal there stays as it is).
    """
    if predictor is None:
        loaded = load_checked_model(project, model_path, device)
        # no entropy plane: the summary takes its mean from the prediction's figures (stats); the confidence
        # plane made as it is stored (uint8)
        predictor = Predictor(loaded, device=device, tta_flip=tta_flip, batch_size=batch_size,
                              runtime=proposal_runtime(loaded, device),  # onnxruntime where measured faster
                              quantised_confidence=True)
        model_name = loaded.path.name
        card = loaded.card
    else:
        if predictor.classes is not None and predictor.classes != list(project.codes):
            raise ModelFileError(f"model classes {predictor.classes} differ from the dataset's codes.txt "
                                 f"classes {list(project.codes)}")
        model_name = str(getattr(predictor, "model_name", "model"))
        card = getattr(predictor, "card", None)
    record = record_of(card) if neighbours == "auto" else None  # the model's measured sources
    wanted = project.names() if names is None else list(names)
    for name in wanted:
        project.image_path(name)  # unknown name -> DatasetError naming it
    # every image's status for a whole run; only the asked-for images' for a few (the prefetch child asks
    # for one image at a time: at 100,000 images the full pass took 0.57 s per proposal)
    statuses = project.statuses() if names is None else {n: project.status(n) for n in wanted}
    todo = [n for n in wanted if statuses.get(n) not in KEPT]
    if neighbours not in NEIGHBOURS:
        raise ValueError(f"neighbours must be one of {', '.join(NEIGHBOURS)}, not {neighbours!r}")
    if neighbours == "off" or (names is None and not set(TRAINED) & set(statuses.values())):
        frames = None
    elif frames is None:
        frames = FrameIndex(project.names(), project_group_regex(project))
    neighbour_statuses = statuses if names is None else None  # None: each neighbour's own status, O(1)
    total = len(todo)
    written: list[str] = []
    done = 0
    step = max(1, int(batch_size))
    for start in range(0, total, step):
        if cancel is not None and cancel():
            break
        chunk, images = [], []
        for name in todo[start:start + step]:
            try:
                images.append(read_raw(project.image_path(name)))  # the data as stored; Predictor normalises
                chunk.append(name)
            except LabeltoolError as exc:
                if on_error is None:
                    raise
                on_error(name, exc)
                done += 1
                if on_progress is not None:
                    on_progress(done, total, name)
        # a 50 MP photo is 150 MB: the Predictor drops it once it is the network's input (release)
        predictions = predictor.predict_many(images, release=True) if images else []
        sources = [None] * len(chunk)
        if frames is not None:  # outside the lock: optical flow takes a moment
            for i, name in enumerate(chunk):
                predictions[i], sources[i] = _from_neighbour(project, name, predictions[i], frames, neighbour_statuses,
                                                             neighbours, record)
        stopped = False
        with project.batch():  # one lock and one transaction per forward batch
            for name, pred, source in zip(chunk, predictions, sources, strict=True):
                if cancel is not None and cancel():
                    stopped = True
                    break
                made_by = model_name if source is None else f"{model_name} + {source[1]} of {source[0]}"
                if neighbour_only and source is None:
                    pass  # no neighbour's proposal (its guard or the measured choice said no): the mask stays
                elif _write_proposal(project, name, pred, made_by):
                    written.append(name)
                elif on_skip is not None:
                    on_skip(name)
                done += 1
                if on_progress is not None:
                    on_progress(done, total, name)
        if stopped:
            break
    return written


def _from_neighbour(project, name: str, pred, frames, statuses: dict[str, str] | None, mode: str,
                    record: dict | None = None):
    """(prediction, (source frame, mode used) or None): the neighbour's warped mask (or its combination with the
    network) when a neighbour is corrected. ``mode`` "auto": the source ``record`` chose for the gap."""

    if mode == "auto":
        gaps = [frames.gap(name, other) for other in frames.neighbours(name) if other is not None]
        if all(choose(record, gap) == "off" for gap in gaps if gap is not None and gap <= MAX_FRAME_GAP):
            return pred, None  # the network won at every gap this image could take a neighbour from: no flow
    together = mode == "combine"
    network_confidence = confidence_values(pred.confidence) if together else None  # 0..1 floats
    try:
        found = propose_from_neighbour(project, name, index=frames, statuses=statuses,
                                       network_mask=pred.mask if together else None,
                                       network_confidence=network_confidence)
    except (LabeltoolError, ValueError):  # an unreadable neighbour: the network's proposal stands
        return pred, None
    if found is None:
        return pred, None
    mask, confidence = found.mask, found.confidence
    if mode == "auto":  # the choice for the gap of the frame the warp came from
        mode = choose(record, frames.gap(name, found.source))
        if mode == "off":
            return pred, None
        if mode == "combine":
            network_confidence = confidence_values(pred.confidence)
            sure = network_confidence >= DEFAULT_THRESHOLD
            mask = combine(mask, pred.mask, network_confidence, DEFAULT_THRESHOLD)
            confidence = np.where(sure, network_confidence, confidence).astype(np.float32)
    return dataclasses.replace(pred, mask=mask.astype(np.uint8), confidence=confidence, entropy=None,
                               stats=neighbour_stats(confidence, len(project.codes))), (found.source, mode)


def neighbour_stats(confidence: np.ndarray, num_classes: int) -> dict[str, float]:
    """The proposal figures of a warped proposal, from its confidence c (1 / (1 + fit residual)) read as the
    chance that the warped class is right, the rest spread evenly over the other ``num_classes`` - 1 classes
    (the most uncertain reading that confidence allows): entropy -(c ln c + (1-c) ln((1-c)/(C-1))) nats,
    margin c - (1-c)/(C-1). So warped and network proposals share "to check" and the least-certain order, on
    the same log(C) scale (a 2-way reading put warped frames among the most certain)."""
    c = np.clip(np.asarray(confidence, dtype=np.float64), 1e-6, 1 - 1e-6)
    others = max(1, int(num_classes) - 1)
    entropy = -(c * np.log(c) + (1 - c) * (np.log1p(-c) - np.log(others)))
    return {"mean_confidence": float(c.mean()), "unsure_fraction": float((c < LOW_CONFIDENCE).mean()),
            "entropy": float(entropy.mean()), "margin": float((c - (1 - c) / others).mean())}


def _write_proposal(project, name: str, pred, model_name: str) -> bool:
    """Save one proposal unless the image has a correction or is open in an editor (checked and written
    under the project's inter-process lock by save_mask); True when written."""

    try:
        project.save_mask(name, pred.mask, "proposed", model=model_name,
                          summary=proposal_summary(pred, len(project.codes)))
    except ProposalRefused:
        return False
    write_confidence(project.confidence_path(name), pred.confidence)
    return True

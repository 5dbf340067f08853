"""The audit: a model that never saw an image checks the corrected mask of it (issue 19).

For each checked mask (corrected or reviewed) a *held-out* model is chosen: a model made for this class list
whose card says it never learned from that image (``model.registry.gate.seen_images``: its training images,
the pseudo-labelled and propagated ones, and everything the model it fine-tuned had seen) — the active model
when it qualifies, else the newest that does. An image no model is held out from is not audited (listed
as such): a model that trained on a mask agrees with it and would vouch for its mistakes.

A *disputed* pixel is one where the held-out model is sure (confidence >= ``threshold``, 0.9 by default) of a
class other than the mask's; pixels the mask calls Void are not scored. Per image: the model, the disputed
count and share, and the hash of the mask's pixels that were audited (``array_hash``), so that a mask changed
after its audit is seen as *not audited* (a stale row is never shown as a fact). Kept in
``.labeltool/audit.json`` (``model.project.audit_record``); the disputed pixels of each image in ``.labeltool/audit/NAME.png`` (255 = disputed)
for the editor's overlay. The list sorts the audited images by disputed pixels, most first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.atomic import atomic_write_bytes, atomic_write_text
from model.errors import LabeltoolError
from model.images.imageio import encode_mask, read_raw
from model.inference.predict import Predictor
from model.project.audit_record import AUDITED, audit_path, plane_path, read_audit
from model.project.provenance import array_hash
from model.project.record import now_iso
from model.registry.gate import seen_images
from model.registry.modelfile import list_models, read_card
from model.registry.registry import active_model, load_checked_model

DISPUTE_CONFIDENCE = 0.9


@dataclass
class AuditRun:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)   # name -> the audit row written
    no_model: list[str] = field(default_factory=list)              # checked images no model is held out from
    errors: dict[str, str] = field(default_factory=dict)

    def ranked(self) -> list[str]:
        return sorted(self.rows, key=lambda n: (-self.rows[n]["disputed"], n))


def held_out_models(project) -> list[tuple[Path, set[str]]]:
    """(model, the images it learned from) for the models made for this class list whose cards say what
    they learned from: the active model first, then the newest first."""
    models = list_models(project.models_dir)
    active = active_model(project.models_dir, models)
    ordered = sorted(models, key=lambda p: (p != active, -models.index(p)))
    out = []
    for path in ordered:
        try:
            card = read_card(path)
        except LabeltoolError:
            continue
        seen = seen_images(card, project.models_dir)
        if card.get("classes") == list(project.codes) and seen is not None:
            out.append((path, seen))
    return out


def plan_audit(project, names: Iterable[str] | None = None, model: Path | None = None,
               ) -> tuple[dict[Path, list[str]], list[str]]:
    """(model -> the checked images it audits, the checked images no model is held out from)."""
    statuses = project.statuses()
    wanted = [n for n in (project.names() if names is None else names) if statuses.get(n) in AUDITED]
    candidates = held_out_models(project)
    if model is not None:
        candidates = [(p, s) for p, s in candidates if p.name == Path(model).name]
        if not candidates:
            raise LabeltoolError(f"{model}: not a model of this dataset made for its classes with a card that "
                                 "says what it learned from")
    plan: dict[Path, list[str]] = {}
    orphans = []
    for name in wanted:
        chosen = next((p for p, seen in candidates if name not in seen and Path(name).stem not in seen), None)
        if chosen is None:
            orphans.append(name)
        else:
            plan.setdefault(chosen, []).append(name)
    return plan, orphans


def disputed_pixels(mask: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, void_index: int | None,
                    threshold: float = DISPUTE_CONFIDENCE) -> np.ndarray:
    """Bool plane: the model is sure (>= threshold) of another class than the mask's (Void pixels not scored)."""
    disputed = (predicted != mask) & (np.asarray(confidence) >= threshold)
    if void_index is not None:
        disputed &= mask != void_index
    return disputed


def audit(project, names: Iterable[str] | None = None, *, threshold: float = DISPUTE_CONFIDENCE,
          model: Path | None = None, device: str | None = None,
          on_progress: Callable[[int, int, str], None] | None = None,
          cancel: Callable[[], bool] | None = None) -> AuditRun:
    """Audit the checked masks (``names``: only these) and record the rows; see the module doc."""
    plan, orphans = plan_audit(project, names, model)
    run = AuditRun(no_model=orphans)
    rows = read_audit(project.state_dir)
    total, done = sum(len(v) for v in plan.values()), 0
    try:
        for path, todo in plan.items():
            predictor = Predictor(load_checked_model(project, path, device), device=device, batch_size=1)
            for name in todo:
                if cancel is not None and cancel():
                    return run
                try:
                    label = project.label_path(name)
                    seen = label.stat()  # before reading: a write after it changes the file's size or time
                    mask = project.load_mask(name)
                    if mask is None:
                        raise LabeltoolError(f"{label}: the mask is gone")
                    pred = predictor.predict(read_raw(project.image_path(name)))
                except (LabeltoolError, OSError) as exc:
                    run.errors[name] = str(exc)
                else:
                    disputed = disputed_pixels(mask, pred.mask, pred.confidence, project.void_index, threshold)
                    plane = plane_path(project.state_dir, name)
                    atomic_write_bytes(plane, encode_mask(np.where(disputed, 255, 0).astype(np.uint8), None, plane))
                    scored = int((mask != project.void_index).sum()) if project.void_index is not None else mask.size
                    rows[name] = run.rows[name] = {
                        "model": path.name, "disputed": int(disputed.sum()),
                        "share": round(float(disputed.sum()) / max(1, scored), 6), "threshold": threshold,
                        "pixels": array_hash(mask), "file": [seen.st_size, seen.st_mtime_ns], "at": now_iso()}
                done += 1
                if on_progress is not None:
                    on_progress(done, total, name)
    finally:
        atomic_write_text(audit_path(project.state_dir), json.dumps(rows, indent=1) + "\n")
    return run


__all__ = ["AuditRun", "DISPUTE_CONFIDENCE", "audit", "disputed_pixels", "held_out_models", "plan_audit"]

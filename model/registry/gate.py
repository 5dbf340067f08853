"""The promotion gate of a retrain: which images models are compared on, and the verdict.

Rules (one place each):

- **Seen images** (``seen_images``): every image a model's weights learned from: the card's
  ``seen_images`` (its training and pseudo-labelled images plus, through fine-tuning, everything the
  model it started from had seen), or for older cards its ``training_images`` plus those of the ``fine_tuned_from`` model while
  that card is still on disk. ``None`` when the card lists neither: such a model cannot be compared fairly.
- **Unseen images** (``unseen_images``): the images of a list that none of the given models saw. The
  candidate's own validation, the gate's shared comparison set and ``labeltool models --evaluate`` all
  ask it, so no model is ever scored on an image it trained on (e.g. after ``valid.txt`` changed).
- **Enough images** (``images_needed``): taking out seen images must leave at least ``MIN_GATE_IMAGES`` (3)
  images, or all of the run's validation images when it has fewer (a small project holds out only 1-2
  images automatically, and those no model trained on). With 1-2 images one image decides the mIoU and
  only the classes it shows are scored, so a 0.01 tolerance means nothing; then the gate does not
  promote automatically and says so: the person decides (Models panel, ``labeltool models --promote``).
- **Verdict** (``decide``): promoted when the candidate's mIoU on the shared images is at least the
  active model's minus ``MIOU_TOLERANCE`` AND at least the best model's minus ``MIOU_TOLERANCE``, so
  successive retrains cannot each lose a little (drift) below the best model there ever was. Pixel
  accuracy (Void excluded) is compared when mIoU is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.errors import LabeltoolError, ModelFileError
from model.images.imageio import IMAGE_SUFFIXES

from .modelfile import read_card

MIOU_TOLERANCE = 0.01  # run-to-run noise of one retrain on a handful of images
MIN_GATE_IMAGES = 3
GATE_RULE = (f"promoted when its mIoU on validation images none of the compared models trained on (at least "
             f"{MIN_GATE_IMAGES}) is at least the active model's minus {MIOU_TOLERANCE} and at least the best "
             f"model's minus {MIOU_TOLERANCE} (pixel accuracy when mIoU is missing)")


def _names(value) -> set[str] | None:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        return None
    return set(value)


def seen_images(card: dict[str, Any], models_dir: str | Path | None = None) -> set[str] | None:
    """Every image the model's weights learned from (see the module doc); None when its card does not say."""
    seen = _names(card.get("seen_images"))
    if seen is not None:
        return seen
    seen = _names(card.get("training_images"))
    if seen is None:
        return None
    parent = (card.get("training") or {}).get("fine_tuned_from")
    visited: set[str] = set()
    while isinstance(parent, str) and models_dir is not None and parent not in visited:
        visited.add(parent)
        try:
            parent_card = read_card(Path(models_dir) / Path(parent).name)
        except ModelFileError:
            break  # pruned or unreadable: what it saw is no longer known
        inherited = _names(parent_card.get("seen_images"))
        if inherited is not None:
            return seen | inherited
        seen |= _names(parent_card.get("training_images")) or set()
        parent = (parent_card.get("training") or {}).get("fine_tuned_from")
    return seen


def learned_from(training_images: list[str], init: Path | None, models_dir: str | Path) -> set[str]:
    """A new model's ``seen_images``: its training images plus everything the model it fine-tunes had seen."""
    seen = set(training_images)
    if init is not None:
        try:
            seen |= seen_images(read_card(init), models_dir) or set()
        except ModelFileError:
            pass
    return seen


def _keys(name: str) -> set[str]:
    """A listed name matches the image of that name, and `x.jpg` (a file name) matches the image `x`."""
    path = Path(name)
    return {name, path.stem} if path.suffix.lower() in IMAGE_SUFFIXES else {name}


def unseen_images(names: Iterable[str], seen_sets: Iterable[set[str]]) -> tuple[list[str], list[str]]:
    """(the names none of the models saw, the names taken out), both in the order given. THE rule."""
    seen: set[str] = set()
    for names_seen in seen_sets:
        for n in names_seen:
            seen |= _keys(n)
    kept, out = [], []
    for n in names:
        (out if _keys(n) & seen else kept).append(n)
    return kept, out


def images_needed(validation_images: int) -> int:
    """How many shared images a comparison needs (see the module doc)."""
    return min(MIN_GATE_IMAGES, validation_images)


def decide(new: dict[str, Any] | None, old: dict[str, Any] | None,
           best: dict[str, Any] | None = None) -> tuple[bool, str]:
    """(promote?, why) for the candidate's, the active and the best model's metrics on the same images."""
    if old is None:
        return True, "no active model to compare with"
    if new is None:
        return True, "not measured (no held-out images)"
    for key, label in (("miou", "mIoU"), ("pixel_accuracy", "pixel accuracy")):
        a, b = new.get(key), old.get(key)
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
            continue
        if a < b - MIOU_TOLERANCE:
            return False, f"{label} {a:.3f} vs active {b:.3f}: worse by {b - a:.3f} (more than {MIOU_TOLERANCE})"
        c = (best or {}).get(key)
        if isinstance(c, (int, float)) and a < c - MIOU_TOLERANCE:
            return False, (f"{label} {a:.3f} vs best {c:.3f} ({best.get('name', 'best model')}): worse by "
                           f"{c - a:.3f} (more than {MIOU_TOLERANCE} below the best model there is)")
        also = f", best {c:.3f}" if isinstance(c, (int, float)) else ""
        return True, f"{label} {a:.3f} vs active {b:.3f}{also}: not worse"
    return True, "not measured (no scored pixels)"


@dataclass
class Contender:
    """A model the candidate is compared with: the active one or the best one."""

    role: str  # "active" or "best"
    name: str
    seen: set[str] | None  # seen_images of its card
    score: Callable[[list[str]], dict] | None  # metrics on these images; None when it cannot be scored here
    error: str | None = None  # why it cannot be scored (another class list, unreadable weights)


def _figures(metrics: dict | None) -> dict | None:
    return None if metrics is None else {"miou": metrics.get("miou"), "pixel_accuracy": metrics.get("pixel_accuracy")}


def compare(validation: list[str], candidate_seen: set[str], score_new: Callable[[list[str]], dict],
            contenders: list[Contender]) -> tuple[dict, dict]:
    """Run the gate. Returns (validation, gate) for the candidate's card.

    ``validation``: the run's validation images; the candidate is scored on those it did not see
    (``validation["images"]``) and, if different, on the images none of the compared models saw
    (``gate["images"]``). Models that cannot be scored are left out and named with the reason.
    """
    own, _ = unseen_images(validation, [candidate_seen])
    result = {"images": own, "metrics": score_new(own) if own else {}}
    gate: dict[str, Any] = {"rule": GATE_RULE, "tolerance": MIOU_TOLERANCE, "images": [], "excluded": [],
                            "new": None, "active": None, "best": None}
    usable = [c for c in contenders if c.score is not None]
    for c in contenders:
        gate[c.role] = {"name": c.name, "error": c.error} if c.score is None else {"name": c.name}
    if not validation:
        return result, dict(gate, promoted=True, reason="not measured (no validation images)")
    active = next((c for c in contenders if c.role == "active"), None)
    if active is None or active.score is None:
        why = "no active model to compare with" if active is None else \
            f"the active model {active.name} cannot be scored on this dataset ({active.error})"
        gate["new"] = _figures(result["metrics"]) if own else None
        gate["images"] = own
        return result, dict(gate, promoted=True, reason=why)
    unknown = [c for c in usable if c.seen is None]
    if unknown:
        names = ", ".join(c.name for c in unknown)
        return result, dict(gate, promoted=False, reason=(
            f"{names}: its card does not list the images it trained on, so no fair comparison is possible; "
            "not promoted automatically (promote by hand if you prefer this model)"))
    shared, excluded = unseen_images(validation, [candidate_seen, *(c.seen for c in usable)])
    gate.update(images=shared, excluded=excluded)
    needed = images_needed(len(validation))
    if len(shared) < needed:
        whose = " and ".join(f"the {c.role} model {c.name}" for c in usable)
        return result, dict(gate, promoted=False, reason=(
            f"only {len(shared)} of {len(validation)} validation images were trained on by none of the compared "
            f"models ({len(excluded)} are training images of the new model, {whose}); at least {needed} are "
            "needed for a fair comparison, so it is not promoted automatically: list more corrected images "
            "that no model trained on in valid.txt, or promote by hand"))
    new = result["metrics"] if shared == own else score_new(shared)
    gate["new"] = _figures(new)
    figures = {}
    for c in usable:
        try:
            figures[c.role] = c.score(shared)
            gate[c.role] = {"name": c.name, **_figures(figures[c.role])}
        except LabeltoolError as exc:  # e.g. weights that load but cannot take these images
            gate[c.role] = {"name": c.name, "error": str(exc)}
    if "active" not in figures:
        return result, dict(gate, promoted=True, reason=(f"the active model {active.name} cannot be scored on this "
                                                         f"dataset ({gate['active']['error']})"))
    promoted, reason = decide(new, figures["active"], gate["best"] if "best" in figures else None)
    return result, dict(gate, promoted=promoted, reason=reason)


def verdict(name: str, validation: dict, gate: dict, active: str | None) -> str:
    """The one-line notice at the end of a retrain."""
    new, own = gate.get("new") or {}, (validation.get("metrics") or {}).get("miou")
    if isinstance(new.get("miou"), (int, float)):
        figure = f"mIoU {new['miou']:.3f} on the {len(gate['images'])} validation images compared"
    elif isinstance(own, (int, float)):
        figure = f"mIoU {own:.3f} on {len(validation.get('images') or [])} validation images"
    else:
        figure = "not validated"
    if gate["promoted"]:
        return f"{name} ({figure}) is now the active model: {gate['reason']}"
    return (f"{name} ({figure}) is NOT promoted: {gate['reason']}; {active or '?'} keeps proposing (promote it by "
            "hand in the Models panel or with labeltool models DATASET --promote)")

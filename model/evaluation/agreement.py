"""Agreement between annotators who labelled the same images (issue 19): per-class IoU between them, a
per-pixel disagreement map, and a consensus mask (majority vote, or STAPLE) for a reviewer to adjudicate.

Void is not a scored class (it is not listed), but a pixel one person calls a class and the other Void is a
disagreement for that class: IoU of class c between A and B is |A=c and B=c| / |A=c or B=c|, symmetric, pooled
over all the images and all pairs of annotators (small images do not weigh more than large ones).

Consensus:
- **majority**: the class most annotators chose; where two or more classes tie for the most votes the pixel is
  *undecided* (returned as its own plane, never silently given to one side);
- **STAPLE** (Warfield, Zou & Wells, IEEE TMI 2004; multi-class form): an EM estimate of each annotator's
  confusion matrix and of the true class per pixel, pooled over all the overlap images, so a careful
  annotator's vote weighs more than a sloppy one's; a pixel whose best class has a posterior below
  ``STAPLE_SURE`` is undecided. The EM runs over the distinct vote combinations (at most C^k), not pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.images.imageio import image_size
from model.project.opinions import folder, opinion_names, read_opinions

from .metrics import confusion_matrix

METHODS = ("majority", "staple")
STAPLE_SURE = 0.5
STAPLE_ITERATIONS = 100


def _agreeing(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Per annotator j, an (H, W) uint8 plane: how many annotators (j included) chose j's class there. The
    most votes any class got is their maximum; O(k^2) passes over k planes, never a (classes, H, W) array
    (that would be 600 MB for a 50 MP photo)."""
    return [sum((other == mask).astype(np.uint8) for other in masks) for mask in masks]


def majority(masks: list[np.ndarray], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(consensus, undecided): the class with the most votes; ``undecided`` where two classes tie for the
    most (there the consensus holds the class of the first annotator among the tied, for a person to decide)."""
    agreeing = _agreeing(masks)
    best = np.maximum.reduce(agreeing)
    consensus = masks[0].copy()
    undecided = np.zeros(best.shape, bool)
    chosen = np.zeros(best.shape, bool)
    for mask, votes in zip(masks, agreeing, strict=True):
        top = votes == best
        undecided |= top & chosen & (mask != consensus)
        first = top & ~chosen
        consensus[first] = mask[first]
        chosen |= top
    return consensus.astype(np.uint8), undecided


def disagreement(masks: list[np.ndarray], num_classes: int) -> np.ndarray:
    """(H, W) float32 in 0..1: the share of annotators who did not choose the most chosen class (0: all
    agree; two annotators who differ: 0.5)."""
    best = np.maximum.reduce(_agreeing(masks))
    return (1.0 - best / float(len(masks))).astype(np.float32)


def pair_iou(cm: np.ndarray, void_index: int | None) -> np.ndarray:
    """Per-class IoU (NaN for a class neither chose) of a confusion matrix between two annotators."""
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    if void_index is not None:
        iou[void_index] = np.nan
    return iou


def _combos(masks: list[np.ndarray], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct combinations of the annotators' choices as codes, the inverse index per pixel)."""
    codes = np.zeros(masks[0].shape, np.int64)
    for j, mask in enumerate(masks):
        codes += mask.astype(np.int64) * num_classes ** j
    return np.unique(codes.ravel(), return_inverse=True)


def _choices(combos: np.ndarray, k: int, num_classes: int) -> np.ndarray:
    """(U, k): each code's choice per annotator."""
    return np.stack([(combos // num_classes ** j) % num_classes for j in range(k)], axis=1)


@dataclass
class Staple:
    """STAPLE's estimate: ``theta[j]`` annotator j's confusion (rows: true class, columns: their choice),
    ``prior`` the true classes' frequencies."""

    theta: np.ndarray
    prior: np.ndarray

    def _posterior(self, choices: np.ndarray) -> np.ndarray:
        """(U, C): the chance of each true class given each combination of choices."""
        log = np.log(self.prior)[None] + sum(np.log(self.theta[j])[:, choices[:, j]].T
                                             for j in range(choices.shape[1]))
        log -= log.max(axis=1, keepdims=True)
        post = np.exp(log)
        return post / post.sum(axis=1, keepdims=True)

    def consensus(self, masks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(consensus, undecided: the best class's posterior below STAPLE_SURE), computed per distinct
        combination of choices (never a classes x H x W array)."""
        combos, inverse = _combos(masks, len(self.prior))
        post = self._posterior(_choices(combos, len(masks), len(self.prior)))
        label = post.argmax(axis=1).astype(np.uint8)[inverse].reshape(masks[0].shape)
        return label, (post.max(axis=1) < STAPLE_SURE)[inverse].reshape(masks[0].shape)

    def reliability(self) -> np.ndarray:
        """Per annotator: the share of pixels they labelled right by this estimate."""
        return np.array([(self.prior * np.diag(t)).sum() for t in self.theta])


def fit_staple(images: list[list[np.ndarray]], num_classes: int, iterations: int = STAPLE_ITERATIONS,
               tol: float = 1e-7) -> Staple:
    """STAPLE over ``images`` (each the same k annotators' masks, in the same order)."""
    k = len(images[0])
    per_image = []
    for masks in images:  # one image at a time: only its distinct combinations and their counts are kept
        combos, inverse = _combos(masks, num_classes)
        per_image.append((combos, np.bincount(inverse, minlength=len(combos))))
    combos, where = np.unique(np.concatenate([c for c, _ in per_image]), return_inverse=True)
    weights = np.zeros(len(combos))
    np.add.at(weights, where, np.concatenate([n for _, n in per_image]).astype(np.float64))
    choices = _choices(combos, k, num_classes)  # (U, k)
    post = np.full((len(combos), num_classes), 1e-3)
    for j in range(k):  # start from the vote shares
        post[np.arange(len(combos)), choices[:, j]] += 1.0
    post /= post.sum(axis=1, keepdims=True)
    eps = 1e-6
    fitted = Staple(np.zeros((k, num_classes, num_classes)), np.full(num_classes, 1.0 / num_classes))
    for _ in range(iterations):
        mass = post * weights[:, None]                        # (U, C)
        fitted.prior = np.maximum(mass.sum(0) / weights.sum(), eps)
        for j in range(k):
            table = np.zeros((num_classes, num_classes))
            np.add.at(table.T, choices[:, j], mass)           # table[c, d] += mass[u, c] where choice == d
            fitted.theta[j] = (table + eps) / (table.sum(axis=1, keepdims=True) + eps * num_classes)
        new = fitted._posterior(choices)
        done = float(np.abs(new - post).max()) < tol
        post = new
        if done:
            break
    fitted.prior = fitted.prior / fitted.prior.sum()
    return fitted


@dataclass
class Agreement:
    """What ``labeltool agreement`` and the app's Agreement dialog show."""

    annotators: list[str]
    images: list[str]
    classes: list[str]
    per_class_iou: dict[str, float | None]
    miou: float | None
    pairs: dict[str, dict[str, Any]] = field(default_factory=dict)
    disagreement: dict[str, float] = field(default_factory=dict)   # name -> share of pixels not all agree on
    reliability: dict[str, float] = field(default_factory=dict)    # STAPLE's estimate per annotator
    model: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _iou_dict(iou: np.ndarray, classes: list[str], void_index: int | None) -> dict[str, float | None]:
    return {name: (None if np.isnan(iou[i]) else round(float(iou[i]), 4))
            for i, name in enumerate(classes) if i != void_index}


def _mean(iou: np.ndarray) -> float | None:
    return None if np.all(np.isnan(iou)) else round(float(np.nanmean(iou)), 4)


def labelled_together(project, names: list[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Image -> annotator -> mask, for the images two or more people labelled (their opinions)."""
    if names is None:  # only the images with opinions (not a header read of every image)
        kept = set(opinion_names(project.state_dir))
        names = [n for n in project.names() if folder(project.state_dir, n).name in kept]
    out = {}
    for name in names:
        width, height = image_size(project.image_path(name))
        masks = read_opinions(project.state_dir, name, (height, width), len(project.codes))
        if len(masks) >= 2:
            out[name] = masks
    return out


def measure(project, names: list[str] | None = None, model_card: dict[str, Any] | None = None) -> Agreement:
    """Agreement over the images two or more annotators labelled (``names``: only these)."""
    together = labelled_together(project, names)
    n, void = len(project.codes), project.void_index
    people = sorted({who for masks in together.values() for who in masks})
    pooled = np.zeros((n, n), np.int64)
    pair_cm: dict[tuple[str, str], np.ndarray] = {}
    shares = {}
    for name, masks in together.items():
        whos = sorted(masks)
        for i, a in enumerate(whos):
            for b in whos[i + 1:]:
                cm = confusion_matrix(masks[a], masks[b], n)
                pair_cm[(a, b)] = pair_cm.get((a, b), 0) + cm
                pooled += cm
        stack = [masks[w] for w in whos]
        scored = ~np.all([m == void for m in stack], axis=0) if void is not None else np.ones(stack[0].shape, bool)
        shares[name] = round(float((disagreement(stack, n)[scored] > 0).mean()) if scored.any() else 0.0, 4)
    iou = pair_iou(pooled, void)
    pairs = {f"{a} | {b}": {"per_class_iou": _iou_dict(pair_iou(cm, void), project.codes, void),
                            "miou": _mean(pair_iou(cm, void))} for (a, b), cm in sorted(pair_cm.items())}
    reliability = {}
    full = [[masks[w] for w in people] for masks in together.values() if set(masks) == set(people)]
    if full:
        fitted = fit_staple(full, n)
        reliability = {w: round(float(r), 4) for w, r in zip(people, fitted.reliability(), strict=True)}
    return Agreement(people, sorted(together, key=lambda x: -shares[x]), list(project.codes),
                     _iou_dict(iou, project.codes, void), _mean(iou), pairs, dict(sorted(shares.items(),
                     key=lambda kv: -kv[1])), reliability, model_figures(model_card, project.void_index))


def model_figures(card: dict[str, Any] | None, void_index: int | None) -> dict[str, Any] | None:
    """The model's own held-out figures from its card (per-class IoU, mIoU), to show beside the annotators'."""
    if not card:
        return None
    metrics = (card.get("validation") or {}).get("metrics") or card.get("metrics") or {}
    return {"model": card.get("name") or card.get("model"), "miou": metrics.get("miou"),
            "per_class_iou": metrics.get("per_class_iou") or {},
            "images": len((card.get("validation") or {}).get("images") or [])}


def consensus(project, name: str, method: str = "majority", fitted: Staple | None = None,
              ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
    """(consensus, undecided, the annotators' masks) of image ``name``, or None when fewer than two people
    labelled it. STAPLE is fitted on all the images labelled together unless ``fitted`` is given."""
    if method not in METHODS:
        raise ValueError(f"consensus method must be one of {METHODS}, not {method!r}")
    together = labelled_together(project, [name])
    if name not in together:
        return None
    masks = together[name]
    whos = sorted(masks)
    stack = [masks[w] for w in whos]
    if method == "majority":
        return (*majority(stack, len(project.codes)), masks)
    if fitted is None:
        everyone = labelled_together(project)
        fitted = fit_staple([[m[w] for w in whos] for m in everyone.values() if sorted(m) == whos],
                            len(project.codes))
    return (*fitted.consensus(stack), masks)


__all__ = ["Agreement", "METHODS", "STAPLE_SURE", "Staple", "consensus", "disagreement", "fit_staple",
           "labelled_together", "majority", "measure", "model_figures", "pair_iou"]

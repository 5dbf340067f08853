"""What the window shows of a team's work on one image, without Qt (labeltool/gui/window_team.py shows it):

- the pixels to look at (:func:`overlay_facts`): the disputed pixels of the image's audit while the mask is
  still the one audited (the session's rule), else the pixels its annotators disagree on;
- the consensus to start adjudicating from (:func:`consensus_start`): the consensus where it is decided, the
  mask on screen where it is not (those pixels are left for the reviewer, and shown);
- the agreement report with the active model's own figures (:func:`agreement_report`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from model.errors import LabeltoolError
from model.evaluation.agreement import consensus, disagreement, labelled_together, measure
from model.project.audit_record import read_plane
from model.registry.modelfile import read_card
from model.registry.registry import active_model


@dataclass
class OverlayFacts:
    kind: str                   # "disputed", "disagreement" or "none"
    plane: np.ndarray | None    # bool H x W: the pixels to look at
    text: str


def overlay_facts(project, name: str, disputes: int | None) -> OverlayFacts:
    """``disputes``: the session's disputed count for the image (None: not audited or changed since)."""
    if disputes is not None:
        plane = read_plane(project, name)
        if plane is not None:
            return OverlayFacts("disputed", plane, f"{name}: {disputes} pixels the held-out model disputes "
                                                   "(it is sure of another class)")
    together = labelled_together(project, [name]).get(name)
    if together:
        plane = disagreement([together[w] for w in sorted(together)], len(project.codes)) > 0
        return OverlayFacts("disagreement", plane, f"{name}: {int(plane.sum())} pixels {', '.join(sorted(together))} "
                                                   "labelled differently")
    return OverlayFacts("none", None, f"{name}: not audited, and labelled by one person")


def consensus_start(project, name: str, on_screen: np.ndarray, method: str = "majority",
                    ) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """(the mask to put in the editor, the undecided pixels, the annotators) or None when fewer than two
    people labelled the image. Undecided pixels keep what is on screen."""
    found = consensus(project, name, method)
    if found is None:
        return None
    mask, undecided, masks = found
    if on_screen.shape != mask.shape:
        raise ValueError(f"the mask on screen is {on_screen.shape}, the annotators' masks {mask.shape}")
    return np.where(undecided, on_screen, mask).astype(np.uint8), undecided, sorted(masks)


def agreement_report(project):
    """The agreement between annotators beside the active model's held-out figures (none when its card cannot
    be read: the annotators' figures stand alone)."""
    card = None
    with contextlib.suppress(LabeltoolError):
        model = active_model(project.models_dir)
        card = read_card(model) if model is not None else None
    return measure(project, model_card=card)


__all__ = ["OverlayFacts", "agreement_report", "consensus_start", "overlay_facts"]

"""Which images come next, and what the window may do now (no Qt): one rule each, asked by the window's
prefetch, the proposal child's plan (labeltool/gui/proposal_server.py), the headless Accept and the actions.

- :func:`upcoming` is the walk Next (D) takes from the image open now: the list's order, filter and search.
- :func:`decode_plan`: the images to decode ahead: the one N / Enter opens next, then the next ones Next opens.
- :func:`proposal_plan`: the images to propose ahead: the image on screen when it is untouched and may get a
  proposal, then the next ones of :func:`upcoming` that may. ``model.inference.prefetch.Prefetcher`` proposes exactly
  this plan (``labeltool predict --serve``) and skips what needs no proposal.
- :func:`accepted_message`: what the child is told when a save made an image corrected (Accept, Mark corrected):
  the engine (``model.inference.prefetch.after_accept``) decides which of its next frames to propose again.
- :func:`has_model`: the one answer to "is there a model that proposes?".
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from labeltool.workspace.session import Session
from model.project.status import REVIEWABLE

PREFETCH = 2  # images decoded ahead after the next one to correct
MAX_LOOK = 200  # list rows looked at to find the next images that may get a proposal


def may_get_proposal(status: str) -> bool:
    """A proposal may be written over this status: none or proposed. The engine refuses edited, corrected,
    reviewed, rejected and unknown masks (ProposalRefused); planning them would only cost the child a refusal."""
    return status in ("none", "proposed")


def upcoming(session: Session, max_look: int = MAX_LOOK) -> Iterator[int]:
    """Project indices Next (D) opens one after another from the image open now, at most ``max_look``."""
    for delta in range(1, max_look + 1):
        index = session.step(delta)
        if index is None:
            return
        yield index


def decode_plan(session: Session, count: int = PREFETCH) -> list[str]:
    """Names to decode ahead: the next image to correct (N / Enter) first, then the next ``count`` in the
    list (Next), at most ``count + 1`` in all."""
    if session.index < 0:
        return []
    ahead = list(islice(upcoming(session), count))
    todo = session.next_not_corrected()
    if todo is not None and todo not in ahead:
        ahead.insert(0, todo)
    return [session.names[i] for i in ahead[:count + 1]]


def proposal_plan(session: Session, shown: str | None, dirty: bool, count: int) -> list[str]:
    """Names to propose ahead: the image on screen when untouched and it may get a proposal, then the next
    ``count`` images of :func:`upcoming` that may."""
    if shown is None:
        return []
    wanted = [shown] if may_get_proposal(session.status(shown)) and not dirty else []
    ahead = (session.names[i] for i in upcoming(session))
    wanted += list(islice((n for n in ahead if n not in wanted and may_get_proposal(session.status(n))), count))
    return wanted


def accepted_message(name: str, status: str) -> dict | None:
    """The message for the proposal child after ``name``'s save or status change wrote ``status``: only a
    corrected mask is one its next frames may be warped from."""
    return {"accepted": [name]} if status == "corrected" else None


def has_model(project) -> bool:
    """The project has a model that proposes: the active one or the newest (reads its models folder: a
    worker thread's job where it can be)."""
    from model.registry.modelfile import latest_model
    from model.registry.registry import active_model

    return active_model(project.models_dir) is not None or latest_model(project.models_dir) is not None


def order_after_proposals(session: Session, user_chose: bool) -> str | None:
    """After new proposals: "uncertain" (switch to least certain first: new confidences, the user chose no
    order), "resort" (sort again in the order chosen) or None (name order stays as it is)."""
    if not user_chose and session.order_mode == "name" and session.has_uncertainty():
        return "uncertain"
    return "resort" if session.order_mode != "name" else None


def enabled_actions(has_project: bool, opening: bool, read_only: bool, busy: bool, status: str | None = None,
                    dirty: bool = False, kept_proposal: bool = False, review_mode: bool = False) -> dict[str, bool]:
    """Which of the window's actions are enabled now; ``status``, ``dirty`` and ``kept_proposal`` describe
    the image on screen (None: no image shown). Approve and Reject only in review mode, on a corrected (or
    reviewed/rejected) mask without unsaved edits: the verdict is on the pixels saved."""
    has = has_project and not opening
    writable = has and not read_only
    shown = writable and status is not None
    review = shown and review_mode and not dirty and status in REVIEWABLE
    return {"prev": has, "next": has, "next_todo": has, "save": writable, "accept": writable,
            "open": not opening, "propose": writable and not busy, "retrain": writable and not busy,
            "cancel": busy,
            "mark_corrected": shown and (dirty or status in ("proposed", "edited", "rejected", "unknown")),
            "mark_unchecked": shown and (dirty or status in ("proposed", "corrected", "reviewed", "rejected", "unknown")),
            "revert_proposal": shown and kept_proposal, "review_mode": has,
            "approve": review, "reject": review,
            "audit": writable and not busy, "show_disputed": has, "agreement": has, "consensus": shown}

"""Review mode's rules, without Qt: which corrected image comes next, what the annotator changed from the
model's proposal (the diff overlay), and what a reviewer's verdict says on screen.

- :func:`changed_pixels`: the pixels whose class differs between the kept proposal and the mask: exactly
  what the annotator changed (the overlay marks these and nothing else).
- :func:`review_diff` reads the kept proposal (``.labeltool/proposals/``, kept when a person first saved over
  a proposal: ``Project.has_kept_proposal``) and the mask file: file I/O, so a worker thread calls it. With
  no kept proposal there is nothing to compare with: the whole mask is shown, and the text says so.
- :func:`next_to_review`: the next corrected image after the one open, in the list's order (wrapping).
- :func:`verdict_text`: the banner line of a reviewed or rejected image (the note that sends it back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

NO_PROPOSAL = "no proposal to compare with: the whole mask is shown"
TO_REVIEW = ("corrected",)  # what review mode walks


@dataclass
class ReviewDiff:
    name: str
    changed: np.ndarray | None  # bool H x W: pixels the annotator changed; None: no proposal to compare with
    text: str

    @property
    def count(self) -> int:
        return 0 if self.changed is None else int(self.changed.sum())

    def bbox(self) -> tuple[int, int, int, int] | None:
        """(y0, x0, y1, x1) around the changed pixels (exclusive ends), None when none changed."""
        if self.changed is None or not self.changed.any():
            return None
        rows = np.flatnonzero(self.changed.any(axis=1))
        cols = np.flatnonzero(self.changed.any(axis=0))
        return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def changed_pixels(proposal: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Bool H x W: True where the mask's class differs from the proposal's. ValueError when the shapes differ."""
    proposal, mask = np.asarray(proposal), np.asarray(mask)
    if proposal.shape != mask.shape:
        raise ValueError(f"the proposal is {proposal.shape}, the mask {mask.shape}")
    return proposal != mask


def review_diff(project, name: str) -> ReviewDiff:
    """What the annotator changed from the kept proposal of ``name`` (a worker thread's job: reads files)."""
    from model.images.imageio import image_size, read_mask
    from model.project.kept import kept_path

    mask = project.load_mask(name)
    if mask is None:
        return ReviewDiff(name, None, "no mask to review")
    if not project.has_kept_proposal(name):
        return ReviewDiff(name, None, NO_PROPOSAL)
    try:
        proposal = read_mask(kept_path(project.state_dir, name), len(project.codes),
                             expected_size=image_size(project.image_path(name)))
        changed = changed_pixels(proposal, mask)
    except Exception as exc:  # noqa: BLE001 - an unreadable kept proposal: say so, show the whole mask
        return ReviewDiff(name, None, f"the kept proposal cannot be read ({exc}): the whole mask is shown")
    n = int(changed.sum())
    share = n / changed.size if changed.size else 0.0
    text = (f"{n:,} pixels ({share:.1%}) changed from the proposal, highlighted" if n
            else "no pixel changed from the proposal")
    return ReviewDiff(name, changed, text)


def next_to_review(session, statuses: tuple[str, ...] = TO_REVIEW) -> int | None:
    """The next image after the one open (wrapping), in the list's order and search, whose status is one of
    ``statuses``; the status filter is ignored (review mode walks corrected images whatever the list shows)."""
    from labeltool.workspace.session import STATUS_CODES

    codes = np.array([STATUS_CODES[s] for s in statuses], np.int8)
    order = session.order
    ok = np.isin(session.codes[order], codes) & (order != session.index)
    if session.search:
        ok &= np.fromiter((session.search in session.names[i].lower() for i in order), bool, len(order))
    walk = order[ok]
    if not len(walk):
        return None
    pos = int(session.position[session.index]) if session.index >= 0 else -1
    k = int(np.searchsorted(session.position[walk], pos, side="right"))
    return int(walk[k % len(walk)])


def verdict_text(status: str, review: dict[str, Any] | None) -> str | None:
    """The banner line for a reviewed or rejected image (None for any other)."""
    if status not in ("reviewed", "rejected") or not review:
        return None
    who = f"{review.get('by', '?')} at {review.get('at', '?')}"
    if status == "rejected":
        return f"Sent back by {who}: {review.get('note') or '(no note)'} — fix it and Accept (Enter)"
    note = f": {review['note']}" if review.get("note") else ""
    return f"Approved by {who}{note}"


def shown_review(project, name: str) -> tuple[str, dict[str, Any] | None]:
    """(status, the review that holds) of ``name`` (a worker thread's job: reads the mask's stamp)."""
    status = project.status(name)
    return status, project.get_review(name) if status in ("reviewed", "rejected") else None


def review_facts(project, name: str, with_diff: bool) -> tuple[str, dict[str, Any] | None, ReviewDiff | None]:
    """(status, the review that holds, the diff from the proposal when ``with_diff`` and the mask is one to
    review) of the image now on screen: one worker-thread call per image shown."""
    from model.project.status import REVIEWABLE

    status, review = shown_review(project, name)
    diff = review_diff(project, name) if with_diff and status in REVIEWABLE else None
    return status, review, diff

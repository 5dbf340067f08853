"""A reviewer's verdict on a person's checked mask (Project's ``review`` and ``get_review``).

``reviewed``: a reviewer approved the corrected mask; ``rejected``: a reviewer sent it back with a note
saying what to fix. The verdict is written into the mask file's own person stamp (``"review"``, see
:mod:`model.project.provenance`), with the hash of the decoded pixels reviewed: the same pixels are
re-stamped atomically under the project's write lock, and the verdict holds only while the file's pixels
still hash to it (:func:`model.project.status.decide`). A person's next save of the mask writes a fresh
stamp without the review (edited, or corrected again after Accept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.atomic import atomic_write_bytes
from model.errors import MaskError

from .provenance import decoded_hash, read_stamp, review_info, review_of, stamp, stamp_in
from .record import now_iso
from .status import REVIEWABLE, VERDICT_STATUS, stat_values


def reviewer() -> str:
    """Who reviews: the annotator's name (model.project.identity, when present), else the login name."""
    try:
        from .identity import annotator  # added by issue 19's "who" work; absent in older trees
    except ImportError:
        from .project import current_user  # project.py imports this module: asked when called, not at import

        return current_user()
    return annotator()


class ReviewActions:
    """Project's review actions (a mixin: ``self`` is a :class:`model.project.Project`)."""

    def review(self, name: str, verdict: str = "approved", note: str = "", by: str | None = None) -> str:
        """Approve (``reviewed``) or reject (``rejected``, ``note`` required) the image's checked mask; the
        new status. MaskError naming the file when the mask is not corrected (or already reviewed)."""
        if verdict not in VERDICT_STATUS:
            raise ValueError(f"a review's verdict is approved or rejected, not {verdict!r}")
        self.image_path(name)  # DatasetError naming the image when there is none
        path = self.label_path(name)
        note = " ".join(str(note or "").split())
        if verdict == "rejected" and not note:
            raise MaskError(path, "a rejected review needs a note saying what to fix; nothing was changed")
        by = by or reviewer()
        with self._write_lock():
            status = self.status(name)
            if status not in REVIEWABLE:
                raise MaskError(path, f"is {status if status != 'none' else 'missing'}; only a corrected mask "
                                      "can be reviewed (accept it first)")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise MaskError(path, f"cannot be read ({exc.strerror or exc}); nothing was changed") from exc
            pixels = decoded_hash(data)
            if pixels is None:
                raise MaskError(path, "cannot be decoded as a class mask; nothing was changed")
            now = now_iso()
            info = stamp_in(data) or {"source": "person", "by": "unknown", "at": now, "checked": True}
            info = {key: value for key, value in info.items() if key not in ("v", "review")}
            info["review"] = review_info(verdict, by, now, note, pixels)
            try:
                atomic_write_bytes(path, stamp(data, info))
                st = path.stat()
            except OSError as exc:
                raise MaskError(path, f"cannot be written ({exc.strerror or exc}); nothing was changed") from exc
            status = VERDICT_STATUS[verdict]
            self._remember(name, status=status, **stat_values(st), pixels=pixels)
        return status

    def get_review(self, name: str) -> dict[str, Any] | None:
        """The review that holds for the image's mask ({"verdict", "by", "at", "note", "pixels"}), or None
        (no review, or one of other pixels)."""
        status = self.status(name)
        if status not in ("reviewed", "rejected"):
            return None
        path: Path = self.label_path(name)
        try:
            review = review_of(read_stamp(path))
        except OSError:
            return None
        return review if review is not None and VERDICT_STATUS[review["verdict"]] == status else None

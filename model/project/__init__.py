"""A dataset being labelled: layout, record, provenance, the one status rule, codes, palette.
A thin face (model.faces): ``from model.project import X``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.faces import lazy_face

_HOME = {
    "NeedsCodesError": "project",
    "Project": "project",
    "ProposalRefused": "project",
    "STATUSES": "kept",
    "read_statuses": "readonly_db",
}

if TYPE_CHECKING:
    from .kept import STATUSES
    from .project import NeedsCodesError, Project, ProposalRefused
    from .readonly_db import read_statuses


__getattr__ = lazy_face(__name__, _HOME)


__all__ = ["NeedsCodesError", "Project", "ProposalRefused", "STATUSES", "read_statuses"]

"""Scoring models against corrected masks.
A thin face (model.faces): ``from model.evaluation import X``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.faces import lazy_face

_HOME = {
    "Agreement": "agreement",
    "ConfusionAccumulator": "metrics",
    "evaluate_project": "evaluate",
}

if TYPE_CHECKING:
    from .agreement import Agreement
    from .evaluate import evaluate_project
    from .metrics import ConfusionAccumulator


__getattr__ = lazy_face(__name__, _HOME)


__all__ = ["Agreement", "ConfusionAccumulator", "evaluate_project"]

"""Proposals: predicting, runtimes (torch, ONNX, int8), proposing, prefetching, propagation.
A thin face (model.faces): ``from model.inference import X``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.faces import lazy_face

_HOME = {
    "Predictor": "predict",
    "proposal_runtime": "runtime",
    "propose_dataset": "propose",
}

if TYPE_CHECKING:
    from .predict import Predictor
    from .propose import propose_dataset
    from .runtime import proposal_runtime


__getattr__ = lazy_face(__name__, _HOME)


__all__ = ["Predictor", "proposal_runtime", "propose_dataset"]

"""Networks and what they are built from: configs, losses, normalisation, tiling, fusing.
A thin face (model.faces): ``from model.nets import X``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.faces import lazy_face

_HOME = {
    "TrainConfig": "config",
    "build_model": "networks",
    "make_net": "networks",
}

if TYPE_CHECKING:
    from .config import TrainConfig
    from .networks import build_model, make_net


__getattr__ = lazy_face(__name__, _HOME)


__all__ = ["TrainConfig", "build_model", "make_net"]

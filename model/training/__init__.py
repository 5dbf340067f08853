"""Training runs: data, augmentation, schedules, checkpoints, hold-out, the training lock.
A thin face (model.faces): ``from model.training import X``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.faces import lazy_face

_HOME = {
    "TrainingCancelled": "train",
    "TrainingRun": "train",
    "train_dataset": "train",
}

if TYPE_CHECKING:
    from .train import TrainingCancelled, TrainingRun, train_dataset


__getattr__ = lazy_face(__name__, _HOME)


__all__ = ["TrainingCancelled", "TrainingRun", "train_dataset"]

"""What the main window does with a project, without Qt: navigation, statuses, save and accept rules.

Kept free of widgets so the rules can be tested headless. Rules:
- A saved edit is a person's work, so it is saved with status "corrected" (proposals never overwrite it).
- Accept marks the mask on screen as corrected: an edited mask is saved, an untouched proposal is
  marked corrected as it is; an image with no mask has nothing to accept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.project import Project


@dataclass
class Loaded:
    name: str
    image: np.ndarray
    mask: np.ndarray | None
    status: str


class Session:
    def __init__(self, project: Project):
        self.project = project
        self.names = project.names()
        self.index = -1

    @property
    def current(self) -> str | None:
        return self.names[self.index] if 0 <= self.index < len(self.names) else None

    def load(self, index: int) -> Loaded:
        from model.imageio import read_image

        name = self.names[index]
        image = read_image(self.project.image_path(name))
        mask = self.project.load_mask(name)
        self.index = index
        return Loaded(name, image, mask, self.project.status(name))

    def step(self, delta: int) -> int | None:
        """Index of the image ``delta`` places away, or None past either end."""
        target = self.index + delta
        return target if 0 <= target < len(self.names) else None

    def next_not_corrected(self) -> int | None:
        """The next image (wrapping around) that has no corrected mask."""
        count = len(self.names)
        for offset in range(1, count + 1):
            index = (self.index + offset) % count if count else 0
            if self.project.status(self.names[index]) != "corrected":
                return index
        return None

    def save(self, mask: np.ndarray) -> None:
        name = self.current
        if name is None:
            raise ValueError("no image is open")
        self.project.save_mask(name, mask, "corrected")

    def accept(self, mask: np.ndarray | None, dirty: bool) -> bool:
        """Mark the current mask corrected; returns False when there was nothing to accept."""
        name = self.current
        if name is None:
            return False
        if dirty and mask is not None:
            self.project.save_mask(name, mask, "corrected")
            return True
        status = self.project.status(name)
        if status == "proposed":
            self.project.set_status(name, "corrected")
            return True
        return status == "corrected"

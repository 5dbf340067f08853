"""What the window shows of a training run, from its progress-protocol events (no Qt).

Progress is per mille: by the clock when the run has a time budget (its epoch count is re-planned as it
goes), else by optimiser steps of the planned epochs.
"""

from __future__ import annotations

import time


class TrainProgress:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.started = clock()
        self.budget: float | None = None
        self.epochs = 1
        self.value = 0

    def update(self, event: dict) -> str | None:
        """Take one event; returns the status line to show, or None to keep the current one."""
        kind = event.get("event")
        if kind == "start":
            self.started, self.budget = self.clock(), event.get("time_budget")
            self.epochs = int(event.get("epochs") or 1)
            return f"Training on {event.get('images', '?')} images ({event.get('device', 'cpu')})…"
        if kind == "notice":
            return str(event.get("message", ""))
        if kind not in ("step", "epoch_end"):
            return None
        if kind == "epoch_end":
            self.epochs = int(event.get("epochs") or self.epochs)
        self.value = self._per_mille(event)
        if kind == "step":
            loss = event.get("loss")
            return f"Training: epoch {event.get('epoch')}" + (
                f", loss {loss:.3f}" if isinstance(loss, (int, float)) else "")
        accuracy = (event.get("metrics") or {}).get("pixel_accuracy")
        extra = f", validation accuracy {accuracy:.1%}" if isinstance(accuracy, (int, float)) else ""
        return f"Training: epoch {event.get('epoch')}/{event.get('epochs')} done{extra}"

    def _per_mille(self, event: dict) -> int:
        if self.budget:
            return min(999, int(1000 * (self.clock() - self.started) / float(self.budget)))
        steps = max(int(event.get("steps") or 1), 1)
        done = (int(event.get("epoch") or 1) - 1) * steps + int(event.get("step") or steps)
        return min(999, int(1000 * done / (self.epochs * steps)))

"""What the window shows of a training run, from its progress-protocol events (no Qt).

Progress is per mille: by the clock when the run has a time budget (its epoch count is re-planned as it
goes), else by optimiser steps of the planned epochs. The curves (train loss per step, validation figures
per epoch, against seconds since the run started) and the ETA feed the live chart.
"""

from __future__ import annotations

import time

SCORING_RESERVE_S = 5.0  # after the last epoch the new and the active model are scored (the promotion gate)


class TrainProgress:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.started = clock()
        self.budget: float | None = None
        self.epochs = 1
        self.planned = False
        self.value = 0
        self.loss: list[tuple[float, float]] = []  # (seconds, train loss of one step)
        self.epoch_loss: list[tuple[float, float]] = []  # (seconds, mean train loss of an epoch)
        self.validation: list[tuple[float, dict]] = []  # (seconds, {pixel_accuracy, miou, ...})
        self.seconds = 0.0  # the run's own clock (from its events), start-up included
        self.steps_done = 0
        self.steps_per_epoch = 1
        self.done: dict | None = None

    def update(self, event: dict) -> str | None:
        """Take one event; returns the status line to show, or None to keep the current one."""
        kind = event.get("event")
        if kind == "start":
            self.started, self.budget = self.clock(), event.get("time_budget")
            self.epochs = int(event.get("epochs") or 1)
            self.planned = not self.budget
            self.steps_per_epoch = max(1, int(event.get("steps_per_epoch") or 1))
            self.steps_done = int(event.get("resumed_from_epoch") or 0) * self.steps_per_epoch
            valid = event.get("valid_images") or 0
            return (f"Training on {event.get('images', '?')} images ({event.get('device', 'cpu')}), "
                    f"validating on {valid}…")
        if kind == "notice":
            return str(event.get("message", ""))
        if kind == "done":
            self.done, self.value = event, 1000
            return None
        if kind not in ("step", "epoch_end"):
            return None
        self._clock_from(event)
        if kind == "epoch_end" or event.get("epochs"):
            self.epochs, self.planned = int(event.get("epochs") or self.epochs), True
        if kind == "step":
            self.steps_done += 1
            self.steps_per_epoch = max(1, int(event.get("steps") or self.steps_per_epoch))
            if isinstance(event.get("loss"), (int, float)):
                self.loss.append((self.seconds, float(event["loss"])))
        else:
            if isinstance(event.get("train_loss"), (int, float)):
                self.epoch_loss.append((self.seconds, float(event["train_loss"])))
            if event.get("metrics"):
                self.validation.append((self.seconds, dict(event["metrics"])))
        self.value = self._per_mille(event)
        eta = self.eta()
        tail = f", about {format_duration(eta)} left" if eta is not None else ""
        if kind == "step":
            loss = event.get("loss")
            plan = f"/{self.epochs}" if self.planned else ""
            return f"Training: epoch {event.get('epoch')}{plan}" + (
                f", loss {loss:.3f}" if isinstance(loss, (int, float)) else "") + tail
        metrics = event.get("metrics") or {}
        accuracy, miou = metrics.get("pixel_accuracy"), metrics.get("miou")
        extra = f", validation accuracy {accuracy:.1%}" if isinstance(accuracy, (int, float)) else ""
        extra += f", mIoU {miou:.3f}" if isinstance(miou, (int, float)) else ""
        return f"Training: epoch {event.get('epoch')}/{event.get('epochs')} done{extra}{tail}"

    def _clock_from(self, event: dict) -> None:
        seconds = event.get("seconds")
        self.seconds = float(seconds) if isinstance(seconds, (int, float)) else self.clock() - self.started

    def elapsed(self) -> float:
        return self.seconds

    def eta(self) -> float | None:
        """Seconds left until the model is saved and scored; None before there is a basis for a guess."""
        if self.budget:
            return max(0.0, float(self.budget) - self.seconds) + SCORING_RESERVE_S
        if not self.steps_done or not self.planned or self.seconds <= 0:
            return None
        total = self.epochs * self.steps_per_epoch
        return max(0.0, (total - self.steps_done) * self.seconds / self.steps_done) + SCORING_RESERVE_S

    def _per_mille(self, event: dict) -> int:
        if self.budget:
            return min(999, int(1000 * (self.clock() - self.started) / float(self.budget)))
        steps = max(int(event.get("steps") or 1), 1)
        done = (int(event.get("epoch") or 1) - 1) * steps + int(event.get("step") or steps)
        return min(999, int(1000 * done / (self.epochs * steps)))


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

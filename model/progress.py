"""The progress protocol between the engine and whoever watches it (terminal, app, tests).

Events are plain dicts with an ``"event"`` key (see docs/progress-protocol.md). With ``--json`` each
event is printed as one JSON object per line on stdout; otherwise a progress bar per epoch goes to
stderr. The app reads a subprocess's stdout line by line with :func:`parse_event`.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable
from typing import Any, TextIO

EVENTS = ("start", "step", "epoch_end", "checkpoint", "notice", "done", "error", "lr_find")

Event = dict[str, Any]
EventSink = Callable[[Event], None]


def notice(on_event: EventSink | None, message: str) -> None:
    """A notice for whoever watches (``on_event``), or the log when nobody does."""
    if on_event is not None:
        on_event({"event": "notice", "message": message})
    else:
        logging.getLogger("model").warning("notice: %s", message)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become None, tuples lists, numpy/torch scalars floats."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def format_event(event: Event) -> str:
    """One line of JSON, no newline inside."""
    return json.dumps(_clean(event), separators=(",", ":"), allow_nan=False)


def parse_event(line: str | bytes) -> Event | None:
    """The event a line of ``--json`` output holds, or None for anything else (blank, log text)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return None
    return event


class JsonLines:
    """Print each event as one JSON line (flushed at once so a reading app sees it live)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def __call__(self, event: Event) -> None:
        self.stream.write(format_event(event) + "\n")
        self.stream.flush()


class ConsoleProgress:
    """Human-readable output: a bar per epoch (tqdm when installed), notices and results on stderr."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self._bar = None
        self._epochs = None
        try:
            import tqdm  # noqa: F401

            self._tqdm = True
        except ImportError:  # pragma: no cover
            self._tqdm = False

    def _close_bar(self) -> None:
        if self._bar is not None:
            if self._tqdm:
                self._bar.close()
            else:
                self.stream.write("\n")
            self._bar = None

    def __call__(self, event: Event) -> None:
        kind = event.get("event")
        out = self.stream
        if kind == "start":  # with a time budget "epochs" is only the cap: the steps carry the plan
            self._epochs = None if event.get("time_budget") else event.get("epochs")
            plan = (f"as many epochs as fit {event.get('time_budget'):.0f} s" if event.get("time_budget")
                    else f"{event.get('epochs')} epochs")
            out.write(f"training on {event.get('images')} images ({event.get('valid_images', 0)} validation), device "
                      f"{event.get('device')}, {plan} x {event.get('steps_per_epoch')} steps\n")
        elif kind == "step":
            steps, step, epoch = event.get("steps"), event.get("step"), event.get("epoch")
            if event.get("epochs"):  # the planned epochs (a time-budgeted run knows them after a few steps)
                self._epochs = event["epochs"]
            desc = f"epoch {epoch}/{self._epochs}" if self._epochs else f"epoch {epoch}"
            if self._bar is not None and self._tqdm and self._bar.desc != desc:
                self._bar.set_description_str(desc, refresh=False)
            if self._bar is None:
                if self._tqdm:
                    from tqdm import tqdm

                    self._bar = tqdm(total=steps, desc=desc, file=out, leave=True, dynamic_ncols=True)
                else:
                    self._bar = desc
            loss = event.get("loss")
            if self._tqdm:
                self._bar.update(1)
                self._bar.set_postfix(loss=f"{loss:.4f}" if isinstance(loss, float) else loss)
            else:
                out.write(f"\r{self._bar} step {step}/{steps} loss {loss:.4f}")
        elif kind == "epoch_end":
            self._close_bar()
            self._epochs = event.get("epochs") or self._epochs
            metrics = event.get("metrics") or {}
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, (int, float)))
            out.write(f"epoch {event.get('epoch')}/{event.get('epochs')}: train loss {event.get('train_loss'):.4f}"
                      + (f", {shown}" if shown else "") + "\n")
        elif kind == "notice":
            self._close_bar()
            out.write(f"notice: {event.get('message')}\n")
        elif kind == "checkpoint":
            pass
        elif kind == "done":
            self._close_bar()
            out.write(f"saved {event.get('model')} ({event.get('seconds', 0):.0f} s)\n")
        elif kind == "error":
            self._close_bar()
            out.write(f"error: {event.get('message')}\n")
        elif kind == "lr_find":
            out.write(f"suggested learning rate {event.get('suggestion'):.2e}; plot {event.get('plot')}\n")
        out.flush()


def make_sink(json_mode: bool) -> EventSink:
    return JsonLines() if json_mode else ConsoleProgress()


def null_sink(event: Event) -> None:
    """Discard events."""

"""Display windowing: how an image's data (any dtype, any number of bands) maps to an RGB picture on
screen. A ``DisplayWindow`` (min/max, gamma, auto-levels by percentiles, which bands) never changes the
data; ``display_rgb`` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DisplayWindow:
    """How data maps to the screen; never changes the data.

    ``low``/``high``: the data values shown black and white (None: from ``auto`` or the dtype's range).
    ``auto``: take low/high from the ``percentiles`` of the shown channels (auto-levels).
    ``gamma``: applied after the window (>1 brightens the dark end). ``channels``: which bands are shown
    as red, green, blue (default: the first three; a grey image shows its one band)."""

    low: float | None = None
    high: float | None = None
    gamma: float = 1.0
    auto: bool = False
    percentiles: tuple[float, float] = (0.5, 99.5)
    channels: tuple[int, ...] | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> DisplayWindow:
        d = dict(d or {})
        known = {k: d[k] for k in ("low", "high", "gamma", "auto", "percentiles", "channels") if k in d}
        for key in ("percentiles", "channels"):
            if known.get(key) is not None:
                known[key] = tuple(known[key])
        window = cls(**known)
        if not window.gamma > 0:
            raise ValueError(f"display gamma must be positive, got {window.gamma}")
        return window

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "gamma": self.gamma, "auto": self.auto,
                "percentiles": list(self.percentiles), "channels": None if self.channels is None else list(self.channels)}

    @property
    def is_identity(self) -> bool:
        return self.low is None and self.high is None and self.gamma == 1.0 and not self.auto


def shown_channels(raw: np.ndarray, window: DisplayWindow) -> np.ndarray:
    """(H, W, 1 or 3) view of the bands a window shows."""
    c = raw.shape[2]
    if window.channels is not None:
        picked = [int(i) for i in window.channels]
        if any(not 0 <= i < c for i in picked):
            raise ValueError(f"display channels {picked} do not exist in an image with {c} channels")
        return raw[:, :, picked]
    if c in (1, 3):
        return raw
    if c == 2:
        return raw[:, :, [0, 1, 1]]
    return raw[:, :, :3]


def window_limits(raw: np.ndarray, window: DisplayWindow | None = None) -> tuple[float, float]:
    """The (low, high) data values a window maps to black and white for this image."""
    window = window or DisplayWindow()
    data = shown_channels(raw, window)
    low, high = window.low, window.high
    if window.auto and (low is None or high is None):
        step = max(1, int(np.sqrt(data.shape[0] * data.shape[1] / 1_000_000)))
        sample = data[::step, ::step].astype(np.float32, copy=False)
        finite = sample[np.isfinite(sample)]
        if finite.size:
            plo, phi = np.percentile(finite, window.percentiles)
            low = float(plo) if low is None else low
            high = float(phi) if high is None else high
    if low is None or high is None:
        if data.dtype == np.uint8:
            dlo, dhi = 0.0, 255.0
        elif data.dtype.kind in "ui":
            dlo, dhi = 0.0, float(data.max(initial=0))  # 16-bit without a window: the image's own range
        else:
            finite = data[np.isfinite(data)]
            dlo, dhi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        low = dlo if low is None else low
        high = dhi if high is None else high
    if not high > low:
        high = low + 1.0
    return float(low), float(high)


def as_hwc(raw: np.ndarray, where: str | object = "") -> np.ndarray:
    """An image as (H, W, C): a 2-D array gains a channel axis; any other shape is a ValueError naming
    ``where``. The one place every reader of raw pixels (display, normalisation) checks the shape."""
    raw = np.asarray(raw)
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if raw.ndim != 3:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}images must be (H, W) or (H, W, C), got shape {raw.shape}")
    return raw


def display_rgb(raw: np.ndarray, window: DisplayWindow | dict | None = None) -> np.ndarray:
    """(H, W, 3) uint8 picture of an (H, W, C) array of any dtype through a display window.

    Default window: 8-bit data as stored, anything else auto-levelled. Integer data up to 16 bits go
    through a lookup table (fast on 50 MP); the input array is never written to."""
    raw = as_hwc(raw)
    if window is None:
        window = DisplayWindow() if raw.dtype == np.uint8 else DisplayWindow(auto=True)
    elif isinstance(window, dict):
        window = DisplayWindow.from_dict(window)
    data = shown_channels(raw, window)
    if data.dtype == np.uint8 and window.is_identity:
        out = data
    else:
        low, high = window_limits(raw, window)
        if data.dtype in (np.uint8, np.uint16):
            levels = np.arange(256 if data.dtype == np.uint8 else 65536, dtype=np.float32)
            out = _window_values(levels, low, high, window.gamma)[data]
        else:
            out = np.empty(data.shape, dtype=np.uint8)
            rows = max(1, 4_000_000 // max(1, data.shape[1] * data.shape[2]))
            for y in range(0, data.shape[0], rows):
                out[y:y + rows] = _window_values(data[y:y + rows].astype(np.float32), low, high, window.gamma)
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out)


def _window_values(values: np.ndarray, low: float, high: float, gamma: float) -> np.ndarray:
    x = np.clip((values - low) / (high - low), 0.0, 1.0)
    x = np.nan_to_num(x, nan=0.0)
    if gamma != 1.0:
        x = x ** (1.0 / gamma)
    return (x * 255.0 + 0.5).astype(np.uint8)

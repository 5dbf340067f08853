"""Learning-rate finder: an exponential LR sweep (fastai's lr_find), suggestion by the valley rule,
plot saved as PNG (matplotlib when installed, else drawn with PIL)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from model.atomic import atomic_write
from model.progress import Event, null_sink


def valley(lrs: list[float], losses: list[float]) -> int:
    """fastai's valley rule: the index 2/3 down the longest decreasing stretch of the loss curve."""
    n = len(losses)
    if n < 2:
        return 0
    max_start = max_end = 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return min(n - 1, max_start + int(sections) + int(sections / 2))


def sweep(net: torch.nn.Module, loader: DataLoader, criterion, device: torch.device, *, start_lr: float = 1e-7,
          end_lr: float = 10.0, num_it: int = 100, cancel: Callable[[], bool] | None = None,
          on_event: Callable[[Event], None] = null_sink) -> tuple[list[float], list[float]]:
    """Train with an LR growing exponentially from start_lr to end_lr; stop when the smoothed loss
    exceeds 4x its minimum. The network's weights are restored afterwards."""
    saved = {k: v.detach().clone() for k, v in net.state_dict().items()}
    opt = torch.optim.AdamW(net.parameters(), lr=start_lr, weight_decay=1e-2)
    lrs, losses = [], []
    avg, best, beta = 0.0, math.inf, 0.98
    net.train()
    it = 0
    try:
        while it < num_it:
            for x, y in loader:
                if it >= num_it or (cancel and cancel()):
                    return lrs, losses
                lr = start_lr * (end_lr / start_lr) ** (it / max(1, num_it - 1))
                for g in opt.param_groups:
                    g["lr"] = lr
                loss = criterion(net(x.to(device)), y.to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                avg = beta * avg + (1 - beta) * float(loss.item())
                smooth = avg / (1 - beta ** (it + 1))
                lrs.append(lr)
                losses.append(smooth)
                on_event({"event": "step", "epoch": 1, "step": it + 1, "steps": num_it, "loss": smooth, "lr": lr})
                it += 1
                best = min(best, smooth)
                if not math.isfinite(smooth) or smooth > 4 * best:
                    return lrs, losses
    finally:
        net.load_state_dict(saved)
    return lrs, losses


def save_plot(path: Path, lrs: list[float], losses: list[float], suggestion: float | None) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return atomic_write(path, lambda tmp: _pil_plot(lrs, losses, suggestion).save(tmp, format="PNG"))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, losses)
    if suggestion:
        ax.axvline(suggestion, color="red", linestyle="--", label=f"valley {suggestion:.1e}")
        ax.legend()
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (smoothed)")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path


def _pil_plot(lrs: list[float], losses: list[float], suggestion: float | None):
    from PIL import Image, ImageDraw

    w, h, m = 640, 400, 50
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle([m, m // 2, w - m // 2, h - m], outline="black")
    finite = [(a, b) for a, b in zip(lrs, losses, strict=True) if math.isfinite(b) and a > 0]
    if len(finite) >= 2:
        lx = np.log10([a for a, _ in finite])
        ly = np.array([b for _, b in finite])
        x0, x1 = lx.min(), max(lx.max(), lx.min() + 1e-9)
        y0, y1 = ly.min(), max(ly.max(), ly.min() + 1e-9)

        def px(a, b):
            return (m + (a - x0) / (x1 - x0) * (w - 1.5 * m), h - m - (b - y0) / (y1 - y0) * (h - 1.5 * m))

        draw.line([px(a, b) for a, b in zip(lx, ly, strict=True)], fill=(31, 119, 180), width=2)
        if suggestion:
            sx = px(math.log10(suggestion), y0)[0]
            draw.line([(sx, m // 2), (sx, h - m)], fill="red", width=1)
            draw.text((sx + 4, m // 2 + 4), f"valley {suggestion:.1e}", fill="red")
        for e in range(math.ceil(x0), math.floor(x1) + 1):
            tx = px(e, y0)[0]
            draw.line([(tx, h - m), (tx, h - m + 5)], fill="black")
            draw.text((tx - 12, h - m + 8), f"1e{e}", fill="black")
    draw.text((w // 2 - 40, h - 20), "learning rate (log)", fill="black")
    draw.text((5, 5), "loss (smoothed)", fill="black")
    return img

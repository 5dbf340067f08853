"""Pieces of the training loop that stand alone: distributed set-up, device choice, OOM detection,
the one-cycle schedule and its resizing to a time budget, and validation at full mask resolution."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.evaluation.metrics import ConfusionAccumulator, metrics_from_confusion
from model.inference.predict import Predictor
from model.nets.networks import ScaledInput


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> DistInfo:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1): NCCL on GPU, Gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def teardown_distributed(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def broadcast_number(value: float, info: DistInfo, device: torch.device) -> float:
    """Rank 0's value on every rank (identity in a single process)."""
    if not info.enabled:
        return value
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.broadcast(t, 0)
    return float(t.item())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def pick_device(info: DistInfo) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", info.local_rank if info.enabled else torch.cuda.current_device())
    return torch.device("cpu")


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                              or "not enough memory" in text)


def make_one_cycle(optimizer: torch.optim.Optimizer, max_lrs: list[float], total_steps: int,
                   pct_start: float) -> torch.optim.lr_scheduler.OneCycleLR:
    """fastai's fit_one_cycle settings on torch's OneCycleLR (div 25, final div 1e5, cosine)."""
    total = max(3, int(total_steps))
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lrs, total_steps=total, pct_start=_warmup(pct_start, total),
        div_factor=25.0, final_div_factor=1e5, base_momentum=0.85, max_momentum=0.95)


def _warmup(pct_start: float, total: int) -> float:
    """torch's OneCycleLR divides by zero when the warm-up is shorter than one step: keep it over one."""
    return min(0.5, max(pct_start, 1.5 / total))


def resize_one_cycle(sched: torch.optim.lr_scheduler.OneCycleLR, total_steps: int, pct_start: float) -> None:
    """Change the length of a running one-cycle schedule (when the time budget says so).

    Only the phase boundaries move; the step count so far is kept, so the LR continues smoothly when the
    change is small. Never shrinks below the steps already taken plus one.
    """
    total = max(int(total_steps), sched.last_epoch + 2, 3)
    sched.total_steps = total
    sched._schedule_phases[0]["end_step"] = float(_warmup(pct_start, total) * total) - 1  # noqa: SLF001 - torch keeps them here
    sched._schedule_phases[-1]["end_step"] = total - 1  # noqa: SLF001


@torch.no_grad()
def predict_logits(net: nn.Module, image: torch.Tensor, scale: float) -> torch.Tensor:
    """(1, K, H, W) logits at the image's own size for one normalised (C, H, W) image, run at ``scale``
    (the card's input_scale) through ``tiling.run_scaled`` as a loaded model file runs it."""
    return ScaledInput(net, scale)(image.unsqueeze(0)).float()


@torch.no_grad()
def validate(net: nn.Module, dataset, scale: float, num_classes: int, ignore_index: int,
             class_names: list[str], device: torch.device, void_index: int | None) -> dict:
    """Metrics over ``dataset`` scored at the labels' resolution. The images go through
    ``predict.Predictor`` (normalisation, scale, reflect padding, tiling of images over the budget)
    exactly as proposals and ``evaluate`` do, so the figures agree."""

    was_training = net.training
    net.eval()
    predictor = Predictor(net, {"normalization": getattr(dataset, "norm", None), "input_scale": scale},
                          device=device, fuse_bn=False, channels_last=False, amp=False)
    acc = ConfusionAccumulator(num_classes, ignore_index if ignore_index < num_classes else None)
    for i in range(len(dataset)):
        image, mask = dataset.raw(i)
        pred = torch.from_numpy(predictor.predict(image).mask.astype(np.int64))
        target = torch.from_numpy(mask.astype(np.int64))
        if ignore_index >= num_classes:  # no Void class: 255 marks nothing-to-score
            keep = target != ignore_index
            pred, target = pred[keep], target[keep]
        acc.update(pred, target)
    net.train(was_training)
    result = metrics_from_confusion(acc.matrix, class_names, void_index)
    return {"pixel_accuracy": result["pixel_accuracy"], "error_rate_non_void": result.get("error_rate_non_void"),
            "miou": result["miou"]}

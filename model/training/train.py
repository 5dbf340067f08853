"""Training: fine-tune a segmentation network on a dataset's corrected masks.

``train_dataset(root, cfg, on_event, cancel)`` is the one entry point (the CLI, the app and torchrun
all call it). One-cycle schedule sized to the time budget, fastai-style freeze-then-unfreeze with
discriminative LRs for a pretrained encoder, AMP + channels_last on CUDA, checkpoints each epoch
(resume on re-run), an automatic retry at half the batch size on out-of-memory, and DDP under
torchrun (only rank 0 writes files and emits events).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DistributedSampler

from model.errors import LabeltoolError
from model.images.imageio import image_size
from model.nets import normalization as nz
from model.nets.config import TrainConfig
from model.nets.losses import build_loss, class_weights_from_counts
from model.nets.networks import build_model
from model.progress import Event, null_sink
from model.project.layout import project_group_regex
from model.project.project import Project
from model.registry.gate import seen_images
from model.registry.modelfile import load_model, read_card
from model.registry.registry import active_model, best_model, read_registry

from . import trainutil as tu
from .augment import ignore_index_for
from .checkpoint import load_checkpoint, save_checkpoint
from .data import build_datasets, make_loader, split_names
from .defaults import detect_hardware, project_working_scale, resolve_config
from .finish import RunFinish
from .holdout import choose_holdout
from .propagated import TIME_SHARE as PROPAGATE_TIME_SHARE
from .propagated import WithPropagated, build_propagated
from .semisup import SelfTraining
from .train_lock import train_lock

PROBE_STEPS = 4  # steps timed before the schedule is sized to the time budget
SAVE_RESERVE_S = 3.0


class TrainingCancelled(LabeltoolError):
    """The user cancelled; the last epoch's checkpoint is kept so a re-run continues from it."""


def train_dataset(root: str | Path, cfg: TrainConfig | None = None, on_event: Callable[[Event], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> Path:
    """Train on ``root``'s corrected masks; returns the saved model's .safetensors path.

    One trainer per dataset: ``models/.train.lock`` is held for the whole run (model.training.train_lock.train_lock),
    so a second run of the same dataset (the app, a terminal) stops at once with a message naming the first.
    """
    dist = tu.setup_distributed()
    emit = (on_event or null_sink) if dist.main else null_sink
    root = Path(root).expanduser()
    try:
        locked = train_lock(root.resolve() / "models") if dist.main and root.is_dir() else contextlib.nullcontext()
        with locked:
            return TrainingRun(root, cfg, emit, cancel or (lambda: False), dist).run()
    finally:
        tu.teardown_distributed(dist)


class TrainingRun(RunFinish):
    """One training run of a dataset (train_dataset runs one; ``labeltool lr-find`` builds one to sweep the learning rate over the same data and network)."""

    def __init__(self, root: Path, cfg: TrainConfig | None, emit, cancel, dist: tu.DistInfo):
        self.t0 = time.monotonic()
        self.emit, self.cancel, self.dist = emit, cancel, dist
        self.project = project = Project.open(root)
        self.codes, self.void = project.codes, project.void_index
        self.ignore = ignore_index_for(self.void)
        self.train_names, self.val_names, note = split_names(project)
        if note:
            emit({"event": "notice", "message": note})
        self.val_source = "valid.txt" if self.val_names else "none"
        self.holdout: list[str] | None = None  # the automatic hold-out, kept in the registry for later retrains
        if not self.val_names and (cfg is None or cfg.validate):
            self._hold_out()
        self.hw = detect_hardware()
        user_freeze = cfg.freeze_epochs if cfg is not None else None
        self.cfg, self.init_path, notes = resolve_config(
            cfg, num_images=len(self.train_names), image_wh=image_size(project.image_path(self.train_names[0])),
            hw=self.hw, models_dir=project.models_dir, codes=self.codes,
            working_scale=project_working_scale(project))
        for message in notes:
            emit({"event": "notice", "message": message})
        self.device = tu.pick_device(dist)
        torch.set_num_threads(self.cfg.threads or max(1, self.hw.cpu_cores // dist.world))
        torch.manual_seed(self.cfg.seed)
        # input bands and intensity normalisation from the data, computed once (a fine-tune keeps its card's)
        self.norm = nz.for_training([project.image_path(n) for n in self.train_names],
                                    read_card(self.init_path) if self.init_path else None)
        self.net, self.pretrained = self._make_net()
        if user_freeze is None and not self.pretrained:
            self.cfg.freeze_epochs = 0
        self.net.to(self.device)
        if self.cfg.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.initial_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def _hold_out(self) -> None:
        """No valid.txt naming a corrected image: hold out some corrected images (model.registry rules)."""
        models_dir = self.project.models_dir
        seen: set[str] = set()
        for path in {active_model(models_dir), best_model(models_dir, classes=self.codes)} - {None}:
            with contextlib.suppress(LabeltoolError):  # images the gate's models saw are not held out if avoidable
                seen |= seen_images(read_card(path), models_dir) or set()
        train, val, note = choose_holdout(self.train_names, read_registry(models_dir)["holdout"], seen,
                                          group_regex=project_group_regex(self.project))
        self.emit({"event": "notice", "message": note})
        if val:
            self.train_names, self.val_names = train, val
            self.val_source, self.holdout = "automatic hold-out", val

    def _make_net(self):
        if self.init_path is not None:
            loaded = load_model(self.init_path, raw=True)
            self.emit({"event": "notice", "message": f"fine-tuning {self.init_path.name}"})
            return loaded.net.train(), False
        net = build_model(self.cfg, len(self.codes), on_event=self.emit, in_channels=nz.channels(self.norm))
        return net, bool(getattr(net, "encoder_pretrained", False))

    def _datasets(self):
        train, val = build_datasets(self.project, self.cfg, self.train_names, self.val_names if self.dist.main else [],
                                    self.norm, self.ignore)
        self.propagated = None
        if self.cfg.propagated_neighbours:  # warped neighbours (model.training.propagated): timed inside the budget
            budget = self.cfg.time_budget
            deadline = time.monotonic() + PROPAGATE_TIME_SHARE * budget if budget else None
            pairs, self.propagated = build_propagated(
                self.project, self.cfg, self.train_names, self.val_names, self.norm, self.ignore, train.transform,
                len(self.codes), self.emit, deadline)
            if len(pairs):
                train = WithPropagated(train, pairs)
        return train, val

    def fingerprint(self) -> str:
        c = self.cfg
        key = [sorted(self.train_names), c.arch, c.encoder, self.codes, c.size, c.scale, c.batch_size, c.lr, c.loss,
               c.freeze_epochs, self.init_path.name if self.init_path else None, self.dist.world]
        if c.pseudo_labels not in (None, "off"):
            key += [c.pseudo_labels, c.pseudo_threshold]
        if c.propagated_neighbours:  # the pairs made this time (the warping deadline may make fewer on a re-run)
            key += ["propagated", c.propagated_neighbours,
                    [u["image"] for u in (getattr(self, "propagated", None) or {}).get("used", [])]]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]

    # ---- main ----------------------------------------------------------------------------------
    def run(self) -> Path:
        train_ds, val_ds = self._datasets()
        weight = None
        if self.cfg.class_weights != "none":
            weight = class_weights_from_counts(train_ds.class_pixel_counts(), len(self.codes), self.ignore,
                                               self.cfg.class_weights)
        self.criterion = build_loss(self.cfg.loss, self.ignore, weight).to(self.device)
        batch = self.cfg.batch_size
        while True:
            try:
                return self._fit(train_ds, val_ds, batch)
            except Exception as exc:
                if not tu.is_oom(exc) or self.dist.enabled or batch <= 1:
                    if tu.is_oom(exc):
                        raise LabeltoolError(f"{self.project.root}: out of memory on {self.device} even at batch "
                                             f"size {batch} and input {self.cfg.size}; try --size smaller") from exc
                    raise
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                self.emit({"event": "notice", "message": f"out of memory at batch size {batch} on {self.device}; "
                                                         f"retrying with {batch // 2}"})
                batch //= 2
                self.net.load_state_dict(self.initial_state)

    def _param_groups(self, frozen: bool):
        for p in self.net.encoder.parameters():
            p.requires_grad_(not frozen)
        enc = list(self.net.encoder.parameters())
        enc_ids = {id(p) for p in enc}
        rest = [p for p in self.net.parameters() if id(p) not in enc_ids]
        return enc, rest

    def _max_lrs(self, frozen: bool) -> list[float]:
        lr = self.cfg.lr
        if frozen or not self.pretrained:
            return [lr, lr]
        lr = lr / 2 if self.cfg.freeze_epochs else lr  # fastai fine_tune halves the LR after the frozen epoch
        return [lr / self.cfg.encoder_lr_div, lr]

    def _wrap(self):
        if not self.dist.enabled:
            return self.net
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(self.net, device_ids=ids)

    def _fit(self, train_ds, val_ds, batch_size: int) -> Path:
        cfg, dist, emit, dev = self.cfg, self.dist, self.emit, self.device
        loader = make_loader(train_ds, batch_size, self.cfg, self.dist, self.device)
        spe = len(loader)
        # pseudo-labels of the unlabelled images part-way through (model.training.semisup; off unless configured)
        self.selftrain = SelfTraining(self.project, cfg, self.train_names, self.val_names, self.norm, self.ignore,
                                      emit)
        freeze = min(cfg.freeze_epochs or 0, max(0, cfg.epochs - 1))
        total_epochs = cfg.epochs
        enc, rest = self._param_groups(frozen=freeze > 0)
        opt = torch.optim.AdamW([{"params": enc}, {"params": rest}], lr=cfg.lr, weight_decay=cfg.weight_decay)
        start_epoch, elapsed_before, history = 0, 0.0, []
        fp = self.fingerprint()
        ckpt = load_checkpoint(self.project.models_dir) if cfg.resume else None
        if ckpt is not None and ckpt[2].get("fingerprint") != fp:
            emit({"event": "notice", "message": "a checkpoint of a different training run was found and ignored"})
            ckpt = None
        if ckpt is not None:
            model_state, optim_state, info = ckpt
            self.net.load_state_dict(model_state)
            start_epoch, total_epochs = info["epoch"], max(info["total_epochs"], info["epoch"])
            elapsed_before, history = info.get("elapsed", 0.0), info.get("history", [])
            freeze = info.get("freeze", freeze)
        frozen = start_epoch < freeze
        if ckpt is not None:
            enc, rest = self._param_groups(frozen)
        phase_start = 0 if frozen else freeze
        phase_end = freeze if frozen else total_epochs
        sched = tu.make_one_cycle(opt, self._max_lrs(frozen), (phase_end - phase_start) * spe, cfg.pct_start)
        if ckpt is not None:
            sched.load_state_dict(info["scheduler"])
            opt.load_state_dict(optim_state)
        model = self._wrap()
        amp_dtype = torch.bfloat16 if dev.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
        use_amp = bool(cfg.amp) and dev.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
        if cfg.compile:
            model = torch.compile(model)
        budget = cfg.time_budget

        def used() -> float:  # seconds of this training run, start-up included, earlier attempts too
            return elapsed_before + time.monotonic() - self.t0

        emit({"event": "start", "epochs": total_epochs, "steps_per_epoch": spe, "images": len(train_ds),
              "valid_images": len(val_ds) if val_ds is not None else 0, "device": str(dev),
              "batch_size": loader.batch_size, "size": cfg.size, "scale": cfg.scale, "arch": cfg.arch, "encoder": cfg.encoder,
              "resumed_from_epoch": start_epoch, "time_budget": budget, "world_size": dist.world,
              "init": self.init_path.name if self.init_path else None})
        stop, cancelled, metrics, epoch, probe_t = False, False, {}, start_epoch, None
        planned = budget is None or ckpt is not None  # with a budget the epoch count is known after the probe
        steps_this_run, durations, ckpt_s, last_ckpt = 0, [], 0.0, time.monotonic()
        while epoch < total_epochs and not stop:
            epoch += 1
            if frozen and epoch > freeze:  # fastai fine_tune: unfreeze, new one-cycle with discriminative LRs
                frozen, phase_start = False, freeze
                self._param_groups(frozen=False)
                sched = tu.make_one_cycle(opt, self._max_lrs(False), (total_epochs - freeze) * spe, cfg.pct_start)
                model = self._wrap()
            if isinstance(loader.sampler, DistributedSampler):
                loader.sampler.set_epoch(epoch)
            model.train()
            epoch_t, losses = time.monotonic(), []
            for step, (x, y) in enumerate(loader, 1):
                halt = 2 if self.cancel() else int(budget is not None and used() > budget * 1.05 + 5)
                halt = int(tu.broadcast_number(halt, dist, dev))
                if halt:
                    stop, cancelled = True, halt == 2
                    break
                x = x.to(dev, non_blocking=True)
                if cfg.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                y = y.to(dev, non_blocking=True)
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=use_amp):
                    loss = self.criterion(model(x), y)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                if sched.last_epoch + 1 < sched.total_steps:
                    sched.step()
                losses.append(float(loss.item()))
                steps_this_run += 1
                emit({"event": "step", "epoch": epoch, "step": step, "steps": spe, "loss": losses[-1],
                      "epochs": max(total_epochs, epoch) if planned else None, "seconds": round(used(), 2)})
                if steps_this_run == 1:
                    probe_t = time.monotonic()
                elif steps_this_run == PROBE_STEPS and budget is not None:
                    per_step = (time.monotonic() - probe_t) / (PROBE_STEPS - 1)
                    total_epochs = self._plan(epoch - 1, per_step * spe * 1.05, used(), total_epochs)
                    planned = True
                    if not frozen:
                        tu.resize_one_cycle(sched, (total_epochs - phase_start) * spe, cfg.pct_start)
            if cancelled:
                break
            if not losses:
                break
            tu.barrier(dist)
            if val_ds is not None:
                metrics = tu.validate(self.net, val_ds, cfg.scale, len(self.codes), self.ignore, self.codes,
                                   dev, self.void)
            tu.barrier(dist)
            train_loss = sum(losses) / len(losses)
            history.append({"epoch": epoch, "train_loss": train_loss, **metrics})
            durations.append(time.monotonic() - epoch_t + ckpt_s)
            if self.selftrain.pending and not stop:
                due = int(self.selftrain.due(epoch, total_epochs, used()))
                if int(tu.broadcast_number(due, dist, dev)):  # the same decision on every rank
                    # same length, same batch: same steps per epoch, so the schedule carries on as planned
                    loader = make_loader(self.selftrain.run(self.net, train_ds, dev, epoch), batch_size, cfg, dist,
                                         dev)
            if budget is not None and not stop:
                planned = True
                recent = durations[1:][-5:] or durations  # the first epoch carries warm-up costs
                new_total = self._plan(epoch, sum(recent) / len(recent), used(), total_epochs)
                if new_total != total_epochs:
                    total_epochs = new_total
                    if not frozen:
                        tu.resize_one_cycle(sched, (total_epochs - phase_start) * spe, cfg.pct_start)
            emit({"event": "epoch_end", "epoch": epoch, "epochs": total_epochs, "train_loss": train_loss,
                  "metrics": metrics, "seconds": round(used(), 2)})
            ckpt_s = 0.0
            if dist.main and not stop and epoch < total_epochs and time.monotonic() - last_ckpt >= cfg.checkpoint_every:
                t_ckpt = time.monotonic()
                info = {"fingerprint": fp, "epoch": epoch, "total_epochs": total_epochs, "freeze": freeze,
                        "scheduler": sched.state_dict(), "elapsed": used(), "history": history,
                        "config": cfg.to_dict()}
                emit({"event": "checkpoint", "path": str(save_checkpoint(self.project.models_dir, self.net, opt, info))})
                last_ckpt = time.monotonic()
                ckpt_s = last_ckpt - t_ckpt
        if cancelled:
            raise TrainingCancelled(f"{self.project.root}: training cancelled in epoch {epoch}; "
                                    "run it again to continue from the last checkpoint")
        return self._finish(history, metrics, used, epoch)

    def _plan(self, epochs_done: int, epoch_s: float, used_s: float, current: int) -> int:
        """How many epochs fit the budget, given the time an epoch takes (decided on rank 0)."""
        remaining = self.cfg.time_budget - used_s - SAVE_RESERVE_S
        more = math.floor(remaining / max(epoch_s, 1e-6)) if remaining > 0 else 0
        if epochs_done == 0:
            more = max(1, more)
        total = int(min(self.cfg.epochs, epochs_done + more))
        return int(tu.broadcast_number(total, self.dist, self.device))

"""labeltool lr-find DATASET: sweep the learning rate, suggest one (fastai's valley rule), save a plot."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from labeltool.commands.train import add_training_options

    parser = subparsers.add_parser("lr-find", help="suggest a learning rate for training (LR sweep + plot)",
                                   description=__doc__)
    add_training_options(parser)
    parser.add_argument("--iterations", type=int, default=60, help="sweep length in steps")
    parser.add_argument("--plot", type=Path, help="PNG file for the plot (default: DATASET/models/lr_find.png)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from labeltool.commands.train import config_from_args
    from model.nets.losses import build_loss
    from model.progress import make_sink
    from model.training.augment import ignore_index_for
    from model.training.lr_find import save_plot, sweep, valley
    from model.training.train import TrainingRun

    sink = make_sink(args.json)
    args.init = "fresh"  # the sweep is about a new network; keeps the latest model untouched
    args.epochs, args.time_budget = 1, None
    cfg = config_from_args(args)
    run_ = TrainingRun(Path(args.dataset), cfg, sink, lambda: False, _single())
    train_ds, _ = run_._datasets()
    loader = torch.utils.data.DataLoader(train_ds, batch_size=run_.cfg.batch_size, shuffle=True, drop_last=False)
    criterion = build_loss(run_.cfg.loss, ignore_index_for(run_.void))
    lrs, losses = sweep(run_.net, loader, criterion, run_.device, num_it=args.iterations, on_event=sink)
    suggestion = lrs[valley(lrs, losses)] if lrs else None
    plot = args.plot or (run_.project.models_dir / "lr_find.png")
    save_plot(Path(plot), lrs, losses, suggestion)
    sink({"event": "lr_find", "suggestion": suggestion, "plot": str(plot), "lrs": lrs, "losses": losses})
    return 0


def _single():
    from model.training.trainutil import DistInfo

    return DistInfo()
